package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// noHints is a store without copies of published batches: waits read.
type noHints struct{ *historyReads }

// WatchAppends hides the store's (another signature): no hints.
func (noHints) WatchAppends() {}

// Without copies of the published close, a wait reads the closing batch
// once the shared reader tells the run closed.
func TestGetResultWithoutHintsReadsTheClose(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{DisableLocalHandoffs: true}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Echo", echoOnSignal)) })
	st := noHints{&historyReads{Store: h.store}}
	c := engine.NewClient(st, engine.ClientOptions{Identity: "reads"})
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	h.start("plain-wait", "q", "Echo", nil)
	var v int
	done := make(chan error, 1)
	read := st.last.Load()
	go func() { done <- c.GetResult(ctx, "plain-wait", "", &v) }()
	st.waitOpenRead(t, read)
	must(h.client.Signal(h.ctx, "plain-wait", "", "go", 4))
	if err := <-done; err != nil || v != 4 {
		t.Fatalf("result: %d, %v; want 4", v, err)
	}
	if l := st.last.Load(); l != 2 {
		t.Fatalf("read %d last batches, want 2 (the open run, then its close)", l)
	}
}

// A copy of a closing batch that the store refused (an append that lost
// the race for the run's next position) is never the result, though it
// was published first and claims the digest of the close the store
// holds: only the copy whose own digest is the stored close's is used.
func TestGetResultIgnoresARefusedClose(t *testing.T) {
	h := newHarness(t)
	st := &historyReads{Store: h.store}
	c := engine.NewClient(st, engine.ClientOptions{Identity: "refused"})
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	// no worker: the test writes the run's closes itself
	run := h.start("contested", "q", "Echo", nil)
	var v int
	done := make(chan error, 1)
	read := st.last.Load()
	go func() { done <- c.GetResult(ctx, "contested", "", &v) }()
	st.waitOpenRead(t, read)
	last, err := h.store.LastBatch(ctx, run.RunID)
	must(err)
	closing := func(result int) []byte {
		raw, _ := json.Marshal(result)
		data, _ := json.Marshal(&engine.Batch{Kind: engine.BatchTask, Events: []engine.Event{{ID: last.Header.LastEventID + 1,
			Type: engine.EventWorkflowCompleted, Time: time.Now().UTC(), Attrs: &engine.WorkflowCompleted{Result: raw}}}})
		return data
	}
	real := closing(7)
	head := engine.BatchHeader{RunID: run.RunID, WorkflowID: "contested", TaskQueue: "q", Kind: engine.BatchTask,
		FirstEventID: last.Header.LastEventID + 1, LastEventID: last.Header.LastEventID + 1, Closed: true, Lone: true, Sum: engine.BatchSum(real)}
	if _, err := h.store.AppendHistory(ctx, head, closing(666), last.Seq+1000, ""); err == nil {
		t.Fatal("an append at a position the run is not at was accepted")
	}
	if _, err := h.store.AppendHistory(ctx, head, real, last.Seq, ""); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || v != 7 {
		t.Fatalf("result: %d, %v; want 7 (the stored close)", v, err)
	}
	if l := st.last.Load(); l > 2 {
		t.Fatalf("read %d last batches, want at most 2 (the open run, then its close)", l)
	}
}

// Waits answer from the published copy of the close: of several waits,
// not every one reads the closing batch (each may if its copy came late).
func TestGetResultUsesThePublishedClose(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Echo", echoOnSignal)) })
	st := &historyReads{Store: h.store}
	c := engine.NewClient(st, engine.ClientOptions{Identity: "copies"})
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	const waits = 5
	for i := range waits {
		id := fmt.Sprintf("copied-%d", i)
		h.start(id, "q", "Echo", nil)
		var v int
		done := make(chan error, 1)
		read := st.last.Load()
		go func() { done <- c.GetResult(ctx, id, "", &v) }()
		st.waitOpenRead(t, read)
		must(h.client.Signal(h.ctx, id, "", "go", i))
		if err := <-done; err != nil || v != i {
			t.Fatalf("result of %s: %d, %v; want %d", id, v, err, i)
		}
	}
	if l := st.last.Load(); l >= 2*waits {
		t.Fatalf("%d waits read %d last batches: every one read its close, none used the copy", waits, l)
	}
}

// waitOpenRead waits until a GetResult started after the store had served
// read last-batch reads has read its run open, and gives it a moment to
// subscribe to the run's copies (which it does right after that read)
// before the test makes the run close.
func (s *historyReads) waitOpenRead(t *testing.T, read int64) {
	t.Helper()
	waitFor(t, "the wait to read its run open", func() bool { return s.last.Load() > read })
	time.Sleep(20 * time.Millisecond)
}
