package jetstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// A worker whose credentials are limited to queue qa cannot act on other
// queues through the engine: the child it starts on qb, the signal it
// sends to a run on qc and the activity it schedules on qb fail with
// "permission denied for queue …" where its workflow waits for them, are
// audited, and qb/qc receive nothing; a child on qa itself works, and an
// unlimited worker still starts children on another queue.
func TestQueueLimitedWorkerCannotActOnOtherQueues(t *testing.T) {
	node, users, _ := bootWithUsers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	eng := node.Store
	if err := eng.EnableSigning(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := eng.EnableAudit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	discard := slog.New(slog.DiscardHandler)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- engine.RunServices(sctx, eng, discard) }()
	defer func() { stop(); <-done }()

	// outcome is what a workflow saw: the error (and whether it is
	// ErrPermissionDenied), or ok.
	outcome := func(err error) string {
		if err == nil {
			return "ok"
		}
		return fmt.Sprintf("denied=%t %v", errors.Is(err, engine.ErrPermissionDenied), err)
	}
	tricky := map[string]any{"n": 0.1, "s": "<a & b>\u2028é", "empty": []int{}, "nil": nil}
	register := func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Child", func(ctx engine.Context, in map[string]any) (string, error) { return "child done", nil }))
		must(w.RegisterActivityWithName("Work", func(ctx context.Context, in map[string]any) (string, error) { return "worked", nil }))
		must(w.RegisterWorkflowWithName("Waiter", func(ctx engine.Context, _ map[string]any) (string, error) {
			var in map[string]any
			engine.GetSignalChannel(ctx, "finish").Receive(ctx, &in)
			return "got " + in["s"].(string), nil
		}))
		must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context, queue string) (string, error) {
			var r string
			typ := "Child"
			if q, waiter, ok := strings.Cut(queue, ":"); ok {
				queue, typ = q, waiter
			}
			// input and options with what a signature over JSON must survive
			opts := engine.ChildWorkflowOptions{TaskQueue: queue, RetryPolicy: &engine.RetryPolicy{BackoffCoefficient: 1.1, MaximumAttempts: 2, NonRetryableErrorTypes: []string{}}}
			err := engine.ExecuteChildWorkflow(ctx, typ, tricky, opts).Get(ctx, &r)
			return outcome(err) + " " + r, nil
		}))
		must(w.RegisterWorkflowWithName("Signaller", func(ctx engine.Context, target string) (string, error) {
			return outcome(engine.SignalExternalWorkflow(ctx, target, "", "finish", tricky).Get(ctx, nil)), nil
		}))
		must(w.RegisterWorkflowWithName("Scheduler", func(ctx engine.Context, queue string) (string, error) {
			ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{TaskQueue: queue, StartToCloseTimeout: 5 * time.Second,
				RetryPolicy: &engine.RetryPolicy{BackoffCoefficient: 1.5, NonRetryableErrorTypes: []string{}}})
			return outcome(engine.ExecuteActivity(ctx, "Work", tricky).Get(ctx, nil)), nil
		}))
	}
	run := func(st *jetstream.Store, queue string) {
		w := engine.NewWorker(st, queue, engine.WorkerOptions{Logger: discard, ShutdownTimeout: 2 * time.Second})
		register(w)
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
	worker := func(creds, queue string) *jetstream.Store {
		st, err := jetstream.OpenExisting(ctx, jstest.ConnectAs(t, node.URL(), creds), jetstream.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		run(st, queue)
		return st
	}
	wa := worker(addUser(t, node, users, "wa", auth.Worker, "qa"), "qa")
	worker(addUser(t, node, users, "wu", auth.Worker), "qu")
	worker(addUser(t, node, users, "wd", auth.Worker, "qd"), "qd")
	run(eng, "qe") // hosted by the engine: signs with the engine's key

	client := engine.NewClient(eng, engine.ClientOptions{Identity: "test"})
	// the signal's target runs on qc, where nobody works
	if _, err := client.Start(ctx, engine.StartOptions{ID: "target-c", TaskQueue: "qc"}, "Waiter", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Start(ctx, engine.StartOptions{ID: "target-a", TaskQueue: "qa"}, "Waiter", nil); err != nil {
		t.Fatal(err)
	}
	result := func(id, queue, typ, in string) string {
		t.Helper()
		if typ != "" { // "": started above
			if _, err := client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: queue}, typ, in); err != nil {
				t.Fatal(err)
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var got string
		if err := client.GetResult(rctx, id, "", &got); err != nil {
			return "no result: " + err.Error()
		}
		return got
	}
	for _, c := range []struct{ id, queue, typ, in, want, denied string }{
		{"child-b", "qa", "Parent", "qb", `denied=true child workflow Child "child-b/1-`, "qb"},
		{"signal-c", "qa", "Signaller", "target-c", "denied=true PermissionDenied: permission denied for queue qc", "qc"},
		{"act-b", "qa", "Scheduler", "qb", "denied=true activity Work failed after 1 attempt(s)", "qb"},
		{"child-a", "qa", "Parent", "qa", "ok child done", ""},
		{"child-d", "qu", "Parent", "qd", "ok child done", ""},
		{"engine-d", "qe", "Parent", "qd", "ok child done", ""},
		{"act-d", "qu", "Scheduler", "qd", "ok", ""},
		{"act-a", "qa", "Scheduler", "qa", "ok", ""},
		{"signal-a", "qa", "Signaller", "target-a", "ok", ""},
		{"target-a", "", "", "", "got <a & b>\u2028é", ""},
	} {
		got := result(c.id, c.queue, c.typ, c.in)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: workflow saw %q, want %q…", c.id, got, c.want)
		}
		if c.denied != "" && !strings.Contains(got, "permission denied for queue "+c.denied+": worker wa may act on queue qa only") {
			t.Errorf("%s: %q does not name the refused queue %s", c.id, got, c.denied)
		}
	}

	// nothing reached qb, nor the target on qc
	for _, q := range []string{"wf.qb", "act.qb"} {
		if n := subjectMsgs(t, eng, "fm.t."+q); n != 0 {
			t.Errorf("%d task(s) on fm.t.%s, want none", n, q)
		}
	}
	x, err := client.Describe(ctx, "target-c", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Signals) != 0 {
		t.Errorf("the target on qc received %v", x.Signals)
	}
	kids, err := client.Describe(ctx, "child-b", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids.Children) != 1 || kids.Children[0].Status != engine.ChildStartFailed {
		t.Fatalf("child-b's children: %+v, want one that failed to start", kids.Children)
	}
	if _, _, err := eng.GetRun(ctx, kids.Children[0].WorkflowID); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("a run record for the refused child %s: %v", kids.Children[0].WorkflowID, err)
	}

	// every refusal is in the audit trail, naming the worker
	refused := map[string]string{}
	_ = eng.ReadAudit(ctx, false, func(r audit.Record) error {
		if r.Outcome == audit.Refused {
			refused[r.Action] = r.Principal + ": " + r.Why
		}
		return nil
	})
	for _, action := range []string{"start-child", "signal-external", "schedule-activity"} {
		if !strings.HasPrefix(refused[action], "wa: permission denied for queue") {
			t.Errorf("audit of %s: %q", action, refused[action])
		}
	}

	// The limited worker appends child starts on qb itself, to a run of
	// its queue: one claiming to be the unlimited wu (a signature wa
	// cannot make), one naming no writer. Neither starts anything.
	waiter, err := client.Start(ctx, engine.StartOptions{ID: "waiter-a", TaskQueue: "qa"}, "Waiter", nil)
	if err != nil {
		t.Fatal(err)
	}
	jstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if last, err := eng.LastBatch(ctx, waiter.RunID); err != nil || last.Header.Kind != engine.BatchTask {
			return fmt.Errorf("waiter-a has not run its first task: %v", err)
		}
		return nil
	})
	forged := []*engine.CommandWriter{{User: "wu", Sig: "c2lnbmVkIGJ5IHdh"}, nil}
	for i, w := range forged {
		appendCommand(t, wa, waiter, engine.EventStartChildWorkflowRequested, &engine.StartChildWorkflowRequested{Seq: int64(100 + i), WorkflowID: fmt.Sprintf("forged-%d", i),
			RunID: fmt.Sprintf("forged-run-%d", i), WorkflowType: "Child", TaskQueue: "qb", ParentClosePolicy: engine.ParentCloseAbandon, Writer: w})
	}
	// ... and asks the engine to cancel a child on qd, through its
	// parent's history (any history is writable)
	dad, err := client.Start(ctx, engine.StartOptions{ID: "dad-u", TaskQueue: "qu"}, "Parent", "qd:Waiter")
	if err != nil {
		t.Fatal(err)
	}
	var kid engine.ChildRun
	jstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		x, err := client.Describe(ctx, "dad-u", "")
		if err != nil || len(x.Children) != 1 || x.Children[0].Status != engine.StatusRunning {
			return fmt.Errorf("dad-u's child not running: %v", err)
		}
		kid = x.Children[0]
		return nil
	})
	appendCommand(t, wa, dad, engine.EventChildWorkflowCancelRequested, &engine.ChildWorkflowCancelRequested{Seq: kid.Seq, WorkflowID: kid.WorkflowID, Key: kid.RunID})
	want := map[string]string{"start-child wu": "the command is not signed by user wu's key", "start-child unknown": "the command names no writer",
		"cancel-child unknown": "permission denied for queue qd: the command names no writer"}
	jstest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		got := map[string]string{}
		_ = eng.ReadAudit(ctx, false, func(r audit.Record) error {
			if r.Outcome == audit.Refused && (strings.HasPrefix(r.Targets[0], "forged-") || r.Targets[0] == kid.WorkflowID) {
				got[r.Action+" "+r.Principal] = r.Why
			}
			return nil
		})
		for p, why := range want {
			if !strings.Contains(got[p], why) {
				return fmt.Errorf("audit of the forged %s: %q, want %q", p, got[p], why)
			}
		}
		return nil
	})
	if x, err := client.Describe(ctx, kid.WorkflowID, ""); err != nil || x.CancelRequested || x.Status != engine.StatusRunning {
		t.Errorf("the child on qd after a forged cancel: %v, %+v", err, x)
	}
	for i := range forged {
		if _, _, err := eng.GetRun(ctx, fmt.Sprintf("forged-%d", i)); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("forged child %d: run record %v", i, err)
		}
	}
	if n := subjectMsgs(t, eng, "fm.t.wf.qb"); n != 0 {
		t.Errorf("%d task(s) on fm.t.wf.qb after the forged starts", n)
	}
	// Nor through a durable timer, which names the queue the engine
	// publishes it to: workers store none.
	ref := jstest.WatchRefusals(wa.Conn())
	for _, subj := range []string{"fm.tm.forged.timer.1", "$JS.API.STREAM.MSG.DELETE." + jetstream.TimersStream} {
		if !ref.Publish(subj) {
			t.Errorf("worker of qa: publish on %s was not refused", subj)
		}
	}
}

// appendCommand appends a batch holding command a (of type typ) to run's history
// through s, as a worker of the run's queue can.
func appendCommand(t *testing.T, s *jetstream.Store, run engine.Run, typ engine.EventType, a any) {
	t.Helper()
	ctx := context.Background()
	for range 10 { // the run's worker may append meanwhile
		last, err := s.LastBatch(ctx, run.RunID)
		if err != nil {
			t.Fatal(err)
		}
		id := last.Header.LastEventID + 1
		b := engine.Batch{Kind: engine.BatchTask, Events: []engine.Event{{ID: id, Type: typ, Time: time.Now().UTC(), Attrs: a}}}
		data, _ := json.Marshal(&b)
		h := engine.BatchHeader{RunID: run.RunID, WorkflowID: run.WorkflowID, TaskQueue: last.Header.TaskQueue, Kind: engine.BatchTask,
			FirstEventID: id, LastEventID: id, Derive: true}
		_, err = s.AppendHistory(ctx, h, data, last.Seq, "")
		if err == nil {
			return
		}
		if !errors.Is(err, engine.ErrConflict) {
			t.Fatal(err)
		}
	}
	t.Fatal("appending the command kept conflicting")
}

// subjectMsgs is how many messages the tasks stream holds on subject.
func subjectMsgs(t *testing.T, s *jetstream.Store, subject string) uint64 {
	t.Helper()
	js, err := natsjs.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), jetstream.TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), natsjs.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}
