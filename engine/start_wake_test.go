package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// lostWake is a starter whose publish of the first workflow task never
// lands, as when it dies right after appending the start batch.
type lostWake struct{ *jetstream.Store }

func (s lostWake) PublishTask(ctx context.Context, kind engine.TaskKind, queue string, data []byte, msgID string) error {
	if kind == engine.WorkflowTaskKind {
		return errors.New("starter died")
	}
	return s.Store.PublishTask(ctx, kind, queue, data, msgID)
}

// A starter publishes its run's first workflow task itself, after the
// start batch: a worker runs the run with no dispatcher at all. A starter
// that appended the batch but never published the task loses nothing:
// the dispatcher's task (the same one) starts the run once it runs.
func TestStarterPublishesTheFirstWorkflowTask(t *testing.T) {
	store, _ := jstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := engine.NewWorker(store, "sw", engine.WorkerOptions{Logger: quietLogger(), ShutdownTimeout: 2 * time.Second})
	must(w.RegisterWorkflow(echoWorkflow))
	must(w.Start(ctx))
	t.Cleanup(w.Stop)

	result := func(c *engine.Client, id string, within time.Duration) (string, error) {
		rctx, rcancel := context.WithTimeout(ctx, within)
		defer rcancel()
		var out string
		err := c.GetResult(rctx, id, "", &out)
		return out, err
	}
	c := engine.NewClient(store, engine.ClientOptions{Identity: "starter"})
	if _, err := c.Start(ctx, engine.StartOptions{ID: "no-dispatcher", TaskQueue: "sw"}, echoWorkflow, "fast"); err != nil {
		t.Fatal(err)
	}
	if out, err := result(c, "no-dispatcher", 10*time.Second); err != nil || out != "fast" {
		t.Fatalf("run started without a dispatcher: %q, %v; want it completed by the starter's task", out, err)
	}

	lost := engine.NewClient(lostWake{store}, engine.ClientOptions{Identity: "dies"})
	if _, err := lost.Start(ctx, engine.StartOptions{ID: "lost-wake", TaskQueue: "sw"}, echoWorkflow, "guarded"); err != nil {
		t.Fatalf("a start whose task publish failed after its append: %v; want it started", err)
	}
	if _, err := result(c, "lost-wake", time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run with neither the starter's task nor a dispatcher: %v; want it still waiting", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = engine.RunServices(ctx, store, quietLogger())
	}()
	defer func() { cancel(); <-done }()
	if out, err := result(c, "lost-wake", 20*time.Second); err != nil || out != "guarded" {
		t.Fatalf("run whose starter lost its task, once the dispatcher runs: %q, %v; want completed", out, err)
	}
	ev, err := c.History(ctx, "lost-wake", "")
	must(err)
	n := 0
	for _, e := range ev {
		if e.Type == engine.EventWorkflowTaskCompleted {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d workflow tasks completed for a one-task run, want 1", n)
	}
}
