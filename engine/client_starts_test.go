package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// lastReads counts reads of each run's last batch.
type lastReads struct {
	*jetstream.Store
	mu    sync.Mutex
	byRun map[string]int
}

func (s *lastReads) LastBatch(ctx context.Context, runID string) (engine.StoredBatch, error) {
	s.mu.Lock()
	s.byRun[runID]++
	s.mu.Unlock()
	return s.Store.LastBatch(ctx, runID)
}

func (s *lastReads) reads(runID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byRun[runID]
}

// A client waiting for a run it started itself, with its shared reader
// already reading, does not read the open run before waiting: the reader
// brings the close, and the result is the copy of the closing batch the
// wait saw published (its digest the stored batch's), so the run is not
// read at all. A run that closed before the wait is still read and
// answered at once.
func TestGetResultOfOwnStartSkipsTheFirstRead(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Echo", echoOnSignal))
	})
	st := &lastReads{Store: h.store, byRun: map[string]int{}}
	c := engine.NewClient(st, engine.ClientOptions{Identity: "own"})
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()

	// A wait that keeps the shared reader reading meanwhile.
	h.start("keeper", "q", "Echo", nil)
	kept := make(chan error, 1)
	go func() { kept <- c.GetResult(ctx, "keeper", "", nil) }()
	time.Sleep(300 * time.Millisecond)

	own, err := c.Start(ctx, engine.StartOptions{ID: "own", TaskQueue: "q"}, "Echo", nil)
	must(err)
	var v int
	done := make(chan error, 1)
	go func() { done <- c.GetResult(ctx, "own", "", &v) }()
	time.Sleep(300 * time.Millisecond)
	must(h.client.Signal(h.ctx, "own", "", "go", 9))
	if err := <-done; err != nil || v != 9 {
		t.Fatalf("result of a run started here: %d, %v; want 9", v, err)
	}
	// 0 with the copy; 1 when the copy came too late (client_hints.go)
	if n := st.reads(own.RunID); n > 1 {
		t.Fatalf("GetResult of a run this client started read its last batch %d times, want at most 1", n)
	}

	closed, err := c.Start(ctx, engine.StartOptions{ID: "closed-first", TaskQueue: "q"}, "Echo", nil)
	must(err)
	must(h.client.Signal(h.ctx, "closed-first", "", "go", 10))
	h.mustResult("closed-first", nil)
	time.Sleep(100 * time.Millisecond) // the reader has read the close
	if err := c.GetResult(ctx, "closed-first", "", &v); err != nil || v != 10 {
		t.Fatalf("result of a run started here that closed before the wait: %d, %v; want 10", v, err)
	}
	if n := st.reads(closed.RunID); n != 1 {
		t.Fatalf("GetResult of a closed run read its last batch %d times, want 1", n)
	}

	must(h.client.Signal(h.ctx, "keeper", "", "go", 1))
	if err := <-kept; err != nil {
		t.Fatal(err)
	}
}
