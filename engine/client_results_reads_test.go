package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// historyReads counts a client's reads of history: whole histories and
// last batches.
type historyReads struct {
	*jetstream.Store
	whole, last atomic.Int64
}

func (s *historyReads) ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error) {
	s.whole.Add(1)
	return s.Store.ReadHistory(ctx, runID, afterSeq)
}

func (s *historyReads) LastBatch(ctx context.Context, runID string) (engine.StoredBatch, error) {
	s.last.Add(1)
	return s.Store.LastBatch(ctx, runID)
}

// failAfterMarker marks its saga compensated, waits for a signal (so the
// marker is in an earlier batch than the close), then fails.
func failAfterMarker(ctx engine.Context) (int, error) {
	if err := engine.RecordMarker(ctx, engine.MarkerCompensated, "", 1); err != nil {
		return 0, err
	}
	engine.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return 0, errors.New("failed after compensating")
}

// The result of a completed run is in its closing batch: GetResult reads
// that batch alone (one direct get), not the whole history, both when the
// run closed before the call and when the call waits for the close. A run
// that failed still reads its whole history, for a compensation marked in
// an earlier batch.
func TestGetResultReadsOnlyTheClosingBatch(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Echo", echoOnSignal))
		must(w.RegisterWorkflowWithName("FailAfterMarker", failAfterMarker))
	})
	st := &historyReads{Store: h.store}
	c := engine.NewClient(st, engine.ClientOptions{Identity: "reads"})
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()

	h.start("closed-before", "q", "Echo", nil)
	must(h.client.Signal(h.ctx, "closed-before", "", "go", 7))
	h.mustResult("closed-before", nil)
	var v int
	if err := c.GetResult(ctx, "closed-before", "", &v); err != nil || v != 7 {
		t.Fatalf("result of a closed run: %d, %v; want 7", v, err)
	}
	if w, l := st.whole.Load(), st.last.Load(); w != 0 || l != 1 {
		t.Fatalf("GetResult of a closed run read %d whole histories and %d last batches, want 0 and 1", w, l)
	}

	h.start("closes-later", "q", "Echo", nil)
	st.whole.Store(0)
	st.last.Store(0)
	done := make(chan error, 1)
	go func() { done <- c.GetResult(ctx, "closes-later", "", &v) }()
	time.Sleep(200 * time.Millisecond) // the wait reads the open run first
	must(h.client.Signal(h.ctx, "closes-later", "", "go", 8))
	if err := <-done; err != nil || v != 8 {
		t.Fatalf("result of a run closing during the wait: %d, %v; want 8", v, err)
	}
	if w, l := st.whole.Load(), st.last.Load(); w != 0 || l != 2 {
		t.Fatalf("GetResult waiting for a close read %d whole histories and %d last batches, want 0 and 2", w, l)
	}

	h.start("compensated", "q", "FailAfterMarker", nil)
	h.waitForEvent("compensated", engine.EventWorkflowTaskCompleted)
	must(h.client.Signal(h.ctx, "compensated", "", "go", 1))
	err := c.GetResult(ctx, "compensated", "", nil)
	var we *engine.WorkflowError
	if !errors.As(err, &we) || we.Status != engine.StatusCompensated || we.CloseStatus != engine.StatusFailed {
		t.Fatalf("result of a saga that failed after compensating: %v; want status compensated, closed failed", err)
	}
}
