package engine_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// readCounter counts the history reads of one run.
type readCounter struct {
	engine.Store
	run   atomic.Value // string
	reads atomic.Int64
}

func (c *readCounter) ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error) {
	if r, _ := c.run.Load().(string); r == runID {
		c.reads.Add(1)
	}
	return c.Store.ReadHistory(ctx, runID, afterSeq)
}

func waitForeverWorkflow(ctx engine.Context, _ struct{}) (int, error) {
	engine.GetSignalChannel(ctx, "never").Receive(ctx, nil)
	return 0, nil
}

// Tasks that reach a closed run (late activity results, timers, wake-ups
// raced by a terminate) are dropped without replaying its history each
// time: a closed run is not cached, and each replay of a long history held
// the run's lock while the worker's other handlers queued on it (a worker
// crawled at ~1 task/s after a 50,000-event run was terminated with work
// in flight).
func TestTasksForClosedRunDoNotReplayIt(t *testing.T) {
	h := newHarness(t)
	counter := &readCounter{Store: h.store}
	// One handler: the tasks are handled in the order they were stored.
	w := engine.NewWorker(counter, "closed", engine.WorkerOptions{Logger: quietLogger(), ShutdownTimeout: 2 * time.Second, MaxConcurrentWorkflowTasks: 1})
	if err := w.RegisterWorkflow(waitForeverWorkflow); err != nil {
		t.Fatal(err)
	}
	if err := w.RegisterWorkflow(echoWorkflow); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	run := h.start("closed-1", "closed", waitForeverWorkflow, struct{}{})
	h.waitForEvent("closed-1", engine.EventWorkflowTaskCompleted)
	if err := h.client.Terminate(h.ctx, "closed-1", "", "operator"); err != nil {
		t.Fatal(err)
	}
	counter.run.Store(run.RunID)
	const n = 20
	for i := range n {
		// A late activity result, as a worker reports it after the run
		// closed under it.
		task := fmt.Appendf(nil, `{"run_id":%q,"workflow_id":"closed-1","inbound":{"kind":"activity_result","seq":1,"attempt":1,"result":"1"}}`, run.RunID)
		if err := h.store.PublishTask(h.ctx, engine.WorkflowTaskKind, "closed", task, fmt.Sprintf("late-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	h.start("closed-probe", "closed", echoWorkflow, "after")
	var out string
	h.mustResult("closed-probe", &out)
	if got := counter.reads.Load(); got > 1 {
		t.Fatalf("the worker read the closed run's history %d times for %d tasks, want at most once", got, n)
	}
}
