package engine_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/foremanhq/foreman/engine"
)

// FM 2: continue-as-new carries the signals buffered at that moment into
// the new run: the count sent equals the count processed.
// Signed, the signals a continuation carries are signed for the new run.
func TestContinueAsNewKeepsSignals(t *testing.T) { plainAndSigned(t, continueKeepsSignals) }

func continueKeepsSignals(t *testing.T, h *harness) {
	const total = 60
	wf := func(ctx engine.Context, seen int) (int, error) {
		ch := engine.GetSignalChannel(ctx, "tick")
		for i := 0; i < 5; i++ { // a few signals per run, then a fresh history
			ch.Receive(ctx, nil)
			seen++
			if seen == total {
				return seen, nil
			}
		}
		return 0, engine.NewContinueAsNewError(ctx, seen)
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Ticks", wf)) })
	first := h.start("ticks", "q", "Ticks", 0)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range total / 3 {
				if err := h.client.Signal(h.ctx, "ticks", "", "tick", g); err != nil {
					t.Errorf("signal: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var seen int
	h.mustResult("ticks", &seen)
	if seen != total {
		t.Fatalf("processed %d of %d signals", seen, total)
	}
	x, err := h.client.Describe(h.ctx, "ticks", "")
	must(err)
	if x.Status != engine.StatusCompleted || x.RunID == first.RunID {
		t.Fatalf("last run %s %s: the workflow never continued as new", x.RunID, x.Status)
	}
	old, err := h.client.Describe(h.ctx, "ticks", first.RunID)
	must(err)
	if old.Status != engine.StatusContinuedAsNew || old.ContinuedAs == "" {
		t.Fatalf("first run: %s continued as %q", old.Status, old.ContinuedAs)
	}
	// A new start of the id while the chain runs is refused; after it, allowed.
	if _, err := h.client.Start(h.ctx, engine.StartOptions{ID: "ticks", TaskQueue: "q"}, "Ticks", 0); errors.Is(err, engine.ErrAlreadyStarted) {
		t.Fatalf("completed chain should allow a new run: %v", err)
	}
}
