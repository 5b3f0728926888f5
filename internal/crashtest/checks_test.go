package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/crashtest/flow"
	"github.com/foremanhq/foreman/jetstream"
)

// wantTypes is the one history a CrashFlow run may have, crashes or not:
// duplicate deliveries must leave no trace. The one difference a crash may
// make: an activity execution killed with its worker is recorded as a lost
// attempt (ActivityAttemptFailed, WorkerLost, in a batch of its own), and
// the next attempt runs it again; lostAttempts strips those pairs.
var wantTypes = []engine.EventType{
	engine.EventWorkflowStarted,
	engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
	engine.EventActivityCompleted, engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
	engine.EventActivityCompleted, engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
	engine.EventActivityCompleted, engine.EventTimerStarted, engine.EventWorkflowTaskCompleted,
	engine.EventTimerFired, engine.EventWorkflowCompleted, engine.EventWorkflowTaskCompleted,
}

// checkRun returns what is wrong with one completed run: its status and
// result, and its history (ids 1..n, one start, three activities with
// distinct seqs and the right results, one timer that fired no earlier than
// due, one closing event followed only by the task-completed marker of its
// own batch, times never going backwards).
func checkRun(id string, events []engine.Event, x *engine.Execution) []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, id+": "+fmt.Sprintf(format, args...)) }

	if x.Status != engine.StatusCompleted {
		bad("status %s, want completed (failure: %v, task failure: %v)", x.Status, x.Failure, x.TaskFailure)
	}
	want := flow.Expected(flow.CrashInput{ID: id})
	var got string
	if err := json.Unmarshal(x.Result, &got); err != nil || got != want {
		bad("result %s, want %q", x.Result, want)
	}
	if x.RunID == "" || x.WorkflowID != id {
		bad("describe names run %q of %q", x.RunID, x.WorkflowID)
	}

	types := make([]engine.EventType, len(events))
	for i, e := range events {
		types[i] = e.Type
		if e.ID != int64(i+1) {
			bad("event #%d has id %d: the history has a gap, a duplicate or a reordering", i+1, e.ID)
			break
		}
	}
	for i := 1; i < len(events); i++ {
		if events[i].Time.Before(events[i-1].Time) {
			bad("event %d (%s, %s) is older than event %d (%s, %s)", events[i].ID, events[i].Type,
				events[i].Time.Format(time.StampMicro), events[i-1].ID, events[i-1].Type, events[i-1].Time.Format(time.StampMicro))
		}
	}
	if got := lostAttempts(events, bad); !slices.Equal(got, wantTypes) {
		bad("event types (lost attempts aside)\n     got %v\n    want %v", got, wantTypes)
	}

	count := map[engine.EventType]int{}
	closing := -1
	nClosing := 0
	scheduled := map[int64]string{}
	actSeqs := map[int64]bool{}
	var started *engine.TimerStarted
	var startedAt time.Time
	var fired *engine.TimerFired
	var firedAt time.Time
	steps := flow.Steps(flow.CrashInput{ID: id})
	nAct := 0
	lost := map[int64]int{}
	for i, e := range events {
		count[e.Type]++
		if e.Type.Closes() {
			nClosing++
			closing = i
		}
		switch a := e.Attrs.(type) {
		case *engine.WorkflowStarted:
			if i != 0 {
				bad("WorkflowStarted at event %d", e.ID)
			}
			if a.WorkflowID != id || a.RunID != x.RunID {
				bad("WorkflowStarted names run %s of %q, describe says %s", a.RunID, a.WorkflowID, x.RunID)
			}
		case *engine.ActivityScheduled:
			scheduled[a.Seq] = a.ActivityType
		case *engine.ActivityAttemptFailed:
			lost[a.Seq]++
			if a.Attempt != lost[a.Seq] {
				bad("activity seq %d: lost attempt numbered %d, want %d (each execution its own number)", a.Seq, a.Attempt, lost[a.Seq])
			}
		case *engine.ActivityCompleted:
			if want := lost[a.Seq] + 1; a.Attempt != want {
				bad("activity seq %d completed by attempt %d after %d lost, want attempt %d", a.Seq, a.Attempt, lost[a.Seq], want)
			}
			if actSeqs[a.Seq] {
				bad("activity seq %d completed twice", a.Seq)
			}
			actSeqs[a.Seq] = true
			if _, ok := scheduled[a.Seq]; !ok {
				bad("ActivityCompleted seq %d (event %d) without an earlier ActivityScheduled", a.Seq, e.ID)
			}
			if nAct < len(steps) {
				var r string
				if err := json.Unmarshal(a.Result, &r); err != nil || r != steps[nAct] {
					bad("activity %d (seq %d, %s) result %s, want %q", nAct+1, a.Seq, scheduled[a.Seq], a.Result, steps[nAct])
				}
			}
			nAct++
		case *engine.TimerStarted:
			started, startedAt = a, e.Time
		case *engine.TimerFired:
			fired, firedAt = a, e.Time
		}
	}
	if n := count[engine.EventWorkflowStarted]; n != 1 {
		bad("%d WorkflowStarted events", n)
	}
	if n := count[engine.EventActivityCompleted]; n != 3 || len(actSeqs) != 3 {
		bad("%d ActivityCompleted events with %d distinct seqs, want 3 and 3", n, len(actSeqs))
	}
	if n := count[engine.EventActivityScheduled]; n != 3 {
		bad("%d ActivityScheduled events, want 3", n)
	}
	for i, fn := range flow.Activities {
		if got := scheduled[int64(i+1)]; got != engine.FuncName(fn) {
			bad("activity seq %d is %q, want %q", i+1, got, engine.FuncName(fn))
		}
	}
	if count[engine.EventTimerStarted] != 1 || count[engine.EventTimerFired] != 1 {
		bad("%d TimerStarted and %d TimerFired events, want 1 and 1", count[engine.EventTimerStarted], count[engine.EventTimerFired])
	}
	if started != nil && fired != nil {
		if fired.Seq != started.Seq {
			bad("TimerFired seq %d, TimerStarted seq %d", fired.Seq, started.Seq)
		}
		if started.Duration != flow.TimerDuration || !started.FireAt.Equal(startedAt.Add(flow.TimerDuration)) {
			bad("timer of %s due %s, started %s", started.Duration, started.FireAt.Format(time.StampMicro), startedAt.Format(time.StampMicro))
		}
		if firedAt.Before(started.FireAt) {
			bad("timer fired at %s, %s before it was due", firedAt.Format(time.StampMicro), started.FireAt.Sub(firedAt))
		}
	}
	switch {
	case nClosing != 1:
		bad("%d closing events, want 1", nClosing)
	case closing == len(events)-1:
	case closing == len(events)-2 && events[closing+1].Type == engine.EventWorkflowTaskCompleted:
		// The closing command ends the workflow task's batch, which always
		// ends with WorkflowTaskCompleted.
	default:
		bad("closing event %d (%s) is followed by %d more events", events[closing].ID, events[closing].Type, len(events)-1-closing)
	}
	return p
}

// lostAttempts returns the history's event types without the attempts that
// a kill interrupted (ActivityAttemptFailed with WorkerLost, followed by the
// WorkflowTaskCompleted of its batch); any other failed attempt is bad.
func lostAttempts(events []engine.Event, bad func(string, ...any)) []engine.EventType {
	var types []engine.EventType
	for i := 0; i < len(events); i++ {
		if a, ok := events[i].Attrs.(*engine.ActivityAttemptFailed); ok {
			if a.Failure == nil || a.Failure.Type != engine.FailureWorkerLost {
				bad("activity seq %d attempt %d failed: %v (only a lost attempt is expected)", a.Seq, a.Attempt, a.Failure)
			}
			if i+1 < len(events) && events[i+1].Type == engine.EventWorkflowTaskCompleted {
				i++
			}
			continue
		}
		types = append(types, events[i].Type)
	}
	return types
}

// dumpHistory formats a history for a failure message.
func dumpHistory(events []engine.Event) string {
	var b strings.Builder
	for _, e := range events {
		attrs, _ := json.Marshal(e.Attrs)
		s := string(attrs)
		if len(s) > 140 {
			s = s[:140] + "…"
		}
		fmt.Fprintf(&b, "    %3d %s %-22s %s\n", e.ID, e.Time.Format("15:04:05.000000"), e.Type, s)
	}
	return b.String()
}

// audit is what the whole history stream says, read back through a durable
// history consumer (the same path the dispatcher uses).
type audit struct {
	batches  int
	runsOf   map[string][]string // workflow id -> distinct run ids
	problems []string
}

// auditHistory reads every batch of the history stream and checks, per run,
// that batches carry consecutive event ids and nothing follows the closing
// batch; it records which runs each workflow id has.
func auditHistory(ctx context.Context, c *conn) (*audit, error) {
	sess, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	store := sess.store
	js, err := natsjs.New(sess.nc)
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, jetstream.HistoryStream)
	if err != nil {
		return nil, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	lastSeq := info.State.LastSeq

	a := &audit{runsOf: map[string][]string{}}
	lastEvent := map[string]int64{}
	lastSeqOf := map[string]uint64{}
	closed := map[string]bool{}
	var mu sync.Mutex
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reached := false
	err = store.ConsumeHistory(cctx, "crashtest_audit", func(batches []engine.StoredBatch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range batches {
			h := b.Header
			if b.Seq <= lastSeqOf[h.RunID] {
				continue // a redelivery to this consumer: at least once
			}
			lastSeqOf[h.RunID] = b.Seq
			a.batches++
			if _, seen := lastEvent[h.RunID]; !seen {
				a.runsOf[h.WorkflowID] = append(a.runsOf[h.WorkflowID], h.RunID)
			}
			if closed[h.RunID] {
				a.problems = append(a.problems, fmt.Sprintf("%s run %s: batch at seq %d (events %d-%d) after the closing batch", h.WorkflowID, h.RunID, b.Seq, h.FirstEventID, h.LastEventID))
			}
			if want := lastEvent[h.RunID] + 1; h.FirstEventID != want || h.LastEventID < h.FirstEventID {
				a.problems = append(a.problems, fmt.Sprintf("%s run %s: batch at seq %d holds events %d-%d, want it to start at %d", h.WorkflowID, h.RunID, b.Seq, h.FirstEventID, h.LastEventID, want))
			}
			lastEvent[h.RunID] = h.LastEventID
			closed[h.RunID] = closed[h.RunID] || h.Closed
			if b.Seq >= lastSeq {
				reached = true
				cancel()
			}
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if !reached {
		return a, fmt.Errorf("history consumer stopped before stream seq %d: %v", lastSeq, err)
	}
	return a, nil
}

// verifyRuns checks every run (checkRun), that the run registry and the
// whole history stream hold exactly one run per workflow id, and that the
// stream's batches of each run are consecutive. It returns the histories.
func verifyRuns(t *testing.T, c *conn, ids []string) (map[string][]engine.Event, *audit) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sess, err := c.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client, store := sess.client, sess.store
	histories := map[string][]engine.Event{}
	runIDs := map[string]string{}
	var problems []string
	for _, id := range ids {
		events, err := client.History(ctx, id, "")
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		x, err := client.Describe(ctx, id, "")
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		histories[id], runIDs[id] = events, x.RunID
		if p := checkRun(id, events, x); len(p) > 0 {
			problems = append(problems, p...)
			if len(problems) < 40 {
				problems = append(problems, "  history of "+id+":\n"+dumpHistory(events))
			}
		}
	}
	if len(problems) > 0 {
		if len(problems) > 60 {
			problems = append(problems[:60], fmt.Sprintf("… and %d more", len(problems)-60))
		}
		t.Errorf("runs are wrong after the crashes:\n%s", strings.Join(problems, "\n"))
	}

	// One run per workflow id: in the run registry, and in the history
	// stream read back in full.
	records := 0
	if err := store.ListRuns(ctx, func(id string, rec engine.RunRecord) error {
		records++
		if want, ok := runIDs[id]; !ok || rec.RunID != want {
			t.Errorf("run registry: %q -> run %s, histories say %q", id, rec.RunID, want)
		}
		return nil
	}); err != nil {
		t.Fatalf("listing runs: %v", err)
	}
	if records != len(ids) {
		t.Errorf("run registry holds %d workflow ids, want %d", records, len(ids))
	}
	au, err := auditHistory(ctx, c)
	if err != nil {
		t.Fatalf("auditing the history stream: %v", err)
	}
	for _, p := range au.problems {
		t.Errorf("history stream: %s", p)
	}
	for _, id := range ids {
		if runs := au.runsOf[id]; len(runs) != 1 || runs[0] != runIDs[id] {
			t.Errorf("history stream: workflow %s has runs %v, want exactly [%s]", id, runs, runIDs[id])
		}
	}
	if len(au.runsOf) != len(ids) {
		t.Errorf("history stream: %d workflow ids, want %d", len(au.runsOf), len(ids))
	}

	return histories, au
}
