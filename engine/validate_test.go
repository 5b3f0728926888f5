package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

func echoWorkflow(ctx engine.Context, in string) (string, error) { return in, nil }

// A start that names something the store cannot hold is refused before
// anything is written: the id stays free and nothing later trips on it.
func TestStartValidatesEverythingBeforeWriting(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name string
		opts engine.StartOptions
	}{
		{"queue with a dot", engine.StartOptions{ID: "q1", TaskQueue: "or.ders"}},
		{"queue with a space", engine.StartOptions{ID: "q2", TaskQueue: "a b"}},
		{"queue of 101 bytes", engine.StartOptions{ID: "q3", TaskQueue: strings.Repeat("q", 101)}},
		{"queue with a wildcard", engine.StartOptions{ID: "q4", TaskQueue: "orders>"}},
		{"no queue", engine.StartOptions{ID: "q5"}},
		{"no id", engine.StartOptions{TaskQueue: "orders"}},
		{"id of 1001 bytes", engine.StartOptions{ID: strings.Repeat("x", 1001), TaskQueue: "orders"}},
		{"id not UTF-8", engine.StartOptions{ID: "bad\xff", TaskQueue: "orders"}},
		{"unknown reuse policy", engine.StartOptions{ID: "q6", TaskQueue: "orders", IDReusePolicy: "sometimes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.Start(h.ctx, tc.opts, echoWorkflow, "x")
			if !errors.Is(err, engine.ErrInvalidArgument) {
				t.Fatalf("Start(%+v): %v, want ErrInvalidArgument", tc.opts, err)
			}
			if tc.opts.ID == "" {
				return
			}
			if _, _, err := h.store.GetRun(h.ctx, tc.opts.ID); !errors.Is(err, engine.ErrNotFound) {
				t.Fatalf("run record of %q after a refused start: %v, want none", tc.opts.ID, err)
			}
		})
	}
	// The longest valid queue is accepted, and the run completes.
	q := strings.Repeat("q", engine.MaxTaskQueueBytes)
	h.worker(q, engine.WorkerOptions{}, func(w *engine.Worker) { w.RegisterWorkflow(echoWorkflow) })
	h.start("long-queue", q, echoWorkflow, "ok")
	var out string
	h.mustResult("long-queue", &out)
	if out != "ok" {
		t.Fatalf("result %q", out)
	}
}

// A run record written by an older version without that validation (its
// start batch names a queue the store refuses) must not make the engine's
// boot fatal: the sweeper quarantines it, the services keep running, and a
// new start with the same id replaces it.
func TestMalformedStartRecordIsQuarantined(t *testing.T) {
	h := newHarness(t)
	now := time.Now().UTC()
	b := engine.Batch{Kind: engine.BatchExternal, Events: []engine.Event{{ID: 1, Type: engine.EventWorkflowStarted, Time: now,
		Attrs: &engine.WorkflowStarted{WorkflowID: "poison", RunID: "run-poison", WorkflowType: engine.FuncName(echoWorkflow), TaskQueue: "or.ders"}}}}
	data, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	rec := engine.RunRecord{RunID: "run-poison", CreatedAt: now, Start: data, StartHeader: engine.BatchHeader{
		RunID: "run-poison", WorkflowID: "poison", TaskQueue: "or.ders", Kind: engine.BatchExternal, FirstEventID: 1, LastEventID: 1, Wake: true}}
	if _, err := h.store.CreateRun(h.ctx, "poison", rec); err != nil {
		t.Fatal(err)
	}
	// A second engine's services boot over the poisoned record (the sweeper
	// runs at boot): they must keep running, not exit with its error.
	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
	defer cancel()
	if err := engine.RunServices(ctx, h.store, quietLogger()); ctx.Err() == nil {
		t.Fatalf("services over a malformed start record returned %v before their context ended", err)
	}
	// Reading the poisoned run says what is wrong, as a usage error.
	if _, err := h.client.History(h.ctx, "poison", ""); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("history of the poisoned run: %v, want an ErrInvalidArgument naming the queue", err)
	}
	// The id is not lost: a valid start replaces the record and completes.
	h.worker("orders", engine.WorkerOptions{}, func(w *engine.Worker) { w.RegisterWorkflow(echoWorkflow) })
	run := h.start("poison", "orders", echoWorkflow, "healed")
	if run.RunID == "run-poison" {
		t.Fatal("the new start kept the poisoned run")
	}
	var out string
	h.mustResult("poison", &out)
	if out != "healed" {
		t.Fatalf("result %q", out)
	}
}

func badQueueActivity(ctx engine.Context, in string) (string, error) {
	actx := engine.WithActivityOptions(ctx, engine.ActivityOptions{TaskQueue: "no.such queue"})
	var out string
	err := engine.ExecuteActivity(actx, echoActivity, in).Get(ctx, &out)
	if err == nil {
		return "scheduled on a bad queue", nil
	}
	return "refused: " + err.Error(), nil
}

func echoActivity(ctx context.Context, in string) (string, error) { return in, nil }

// Workflow code that schedules an activity on a queue the store cannot name
// gets the refusal at once, in the workflow, deterministically; nothing is
// scheduled that would stall the run or loop the dispatcher.
func TestActivityOnInvalidQueueFailsInWorkflow(t *testing.T) {
	h := newHarness(t)
	h.worker("orders", engine.WorkerOptions{}, func(w *engine.Worker) {
		w.RegisterWorkflow(badQueueActivity)
		w.RegisterActivity(echoActivity)
	})
	h.start("bad-act", "orders", badQueueActivity, "x")
	var out string
	h.mustResult("bad-act", &out)
	if !strings.HasPrefix(out, "refused: ") || !strings.Contains(out, "no.such queue") {
		t.Fatalf("result %q, want the refusal naming the queue", out)
	}
	if n := count(h.history("bad-act"), engine.EventActivityScheduled); n != 0 {
		t.Fatalf("%d activities scheduled on an invalid queue", n)
	}
}
