package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

var historyTests = []test{
	{"AppendAndReadInOrder", testAppendAndRead},
	{"ConcurrentWritersNeverInterleave", testConcurrentWriters},
	{"StaleAppendConflicts", testStaleAppend},
	{"RetriedAppendIsDeduplicated", testAppendDedupe},
	{"Follow", testFollowHistory},
	{"ConsumeInOrderWithRetries", testConsumeHistory},
}

// batch returns the header of the n-th batch (from 0) of run, two events
// each.
func batch(run string, n int) engine.BatchHeader {
	return engine.BatchHeader{
		RunID: run, WorkflowID: "wf " + run, TaskQueue: "conformance", Kind: engine.BatchTask,
		FirstEventID: int64(2*n + 1), LastEventID: int64(2*n + 2),
	}
}

// appendBatches appends n batches to run after last, failing on error.
func appendBatches(t *testing.T, s engine.Store, run string, n int, last uint64) []engine.StoredBatch {
	t.Helper()
	ctx := testCtx(t)
	var out []engine.StoredBatch
	for i := range n {
		h := batch(run, i)
		data := fmt.Appendf(nil, "%s #%d", run, i)
		seq, err := s.AppendHistory(ctx, h, data, last, "")
		if err != nil {
			t.Fatalf("appending batch %d of %s after seq %d: %v", i, run, last, err)
		}
		if seq <= last {
			t.Fatalf("append after seq %d returned seq %d: sequences must grow", last, seq)
		}
		out = append(out, engine.StoredBatch{Seq: seq, Header: h, Data: data})
		last = seq
	}
	return out
}

// sameBatches compares what was read back with what was appended.
func sameBatches(t *testing.T, what string, got, want []engine.StoredBatch) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d batches, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Header != w.Header || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s: batch %d is seq %d %+v %q, want seq %d %+v %q", what, i, g.Seq, g.Header, g.Data, w.Seq, w.Header, w.Data)
		}
	}
}

// Batches read back in append order, with the header and body as
// written, the sequence AppendHistory returned and the time the store
// took them; reading after a sequence returns the rest; runs are
// independent; the newest batch is LastBatch.
func testAppendAndRead(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	run, other := name("run"), name("other")
	var want []engine.StoredBatch
	var last, lastOther uint64
	for i := range 20 {
		h := batch(run, i)
		h.Closed, h.Wake, h.Derive, h.Lone = i == 19, i%2 == 0, i%3 == 0, i == 19
		if i == 19 {
			h.Sum = engine.BatchSum([]byte("batch 19")) // kept as written
		}
		if i%4 == 1 {
			h.Eager = fmt.Sprintf("w%d:%d,%d", i, i, i+1) // kept as written
		}
		h.Kind = []engine.BatchKind{engine.BatchTask, engine.BatchExternal}[i%2]
		h.WorkflowID = "any id: spaces, dots. * > ü 😀"
		data := fmt.Appendf(nil, "batch %d", i)
		seq, err := s.AppendHistory(ctx, h, data, last, "")
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		want = append(want, engine.StoredBatch{Seq: seq, Header: h, Data: data})
		last = seq
		// Another run's batches in between: each run has its own order,
		// and expectedSeq 0 is right for a run without history.
		if lastOther, err = s.AppendHistory(ctx, batch(other, i), []byte("o"), lastOther, ""); err != nil {
			t.Fatalf("append to another run: %v", err)
		}
	}
	got, err := s.ReadHistory(ctx, run, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameBatches(t, "ReadHistory after 0", got, want)
	for i, b := range got {
		if b.Time.IsZero() || time.Since(b.Time) > time.Hour || time.Until(b.Time) > time.Minute {
			t.Fatalf("batch %d stored at %v: want the time the store took it", i, b.Time)
		}
	}
	got, err = s.ReadHistory(ctx, run, want[9].Seq)
	if err != nil {
		t.Fatal(err)
	}
	sameBatches(t, "ReadHistory after the 10th", got, want[10:])
	if got, err = s.ReadHistory(ctx, run, last); err != nil || len(got) != 0 {
		t.Fatalf("ReadHistory after the last batch = %d batches, %v; want none", len(got), err)
	}
	if got, err = s.ReadHistory(ctx, name("empty"), 0); err != nil || len(got) != 0 {
		t.Fatalf("ReadHistory of a run without history = %d batches, %v; want none, no error", len(got), err)
	}
	lb, err := s.LastBatch(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	sameBatches(t, "LastBatch", []engine.StoredBatch{lb}, want[19:])
	if _, err := s.LastBatch(ctx, name("empty")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("LastBatch of a run without history: %v, want ErrNotFound", err)
	}
}

// Writers that race on one run (each reads the last batch, appends after
// it, and starts over on ErrConflict) never interleave: every append that
// succeeded is in the history exactly once, at the sequence it was given,
// each right after the batch its writer read.
func testConcurrentWriters(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	run := name("race")
	first := appendBatches(t, s, run, 1, 0)[0]
	const writers, each = 4, 8
	var mu sync.Mutex
	after := map[uint64]uint64{} // appended seq -> the seq it was appended after
	data := map[uint64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < each; {
				lb, err := s.LastBatch(ctx, run)
				if err != nil {
					errs <- err
					return
				}
				body := fmt.Sprintf("writer %d batch %d", w, i)
				seq, err := s.AppendHistory(ctx, batch(run, int(lb.Header.LastEventID/2)), []byte(body), lb.Seq, "")
				if errors.Is(err, engine.ErrConflict) {
					continue // another writer got there first
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				after[seq], data[seq] = lb.Seq, body
				mu.Unlock()
				i++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("racing writer: %v", err)
	}
	got, err := s.ReadHistory(ctx, run, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1+writers*each {
		t.Fatalf("history has %d batches, want %d (the first, then every successful append once)", len(got), 1+writers*each)
	}
	if got[0].Seq != first.Seq {
		t.Fatalf("history starts at seq %d, want %d", got[0].Seq, first.Seq)
	}
	for i, b := range got[1:] {
		if after[b.Seq] != got[i].Seq || string(b.Data) != data[b.Seq] {
			t.Fatalf("batch %d (seq %d, %q) was appended after seq %d, but follows seq %d: writers interleaved", i+1, b.Seq, b.Data, after[b.Seq], got[i].Seq)
		}
	}
}

// An append whose expected sequence is not the run's last batch any more
// fails with ErrConflict and stores nothing; of two writers appending
// after the same batch, exactly one wins.
func testStaleAppend(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	run := name("stale")
	b := appendBatches(t, s, run, 2, 0)
	if _, err := s.AppendHistory(ctx, batch(run, 2), []byte("x"), 0, ""); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("append expecting an empty history to a run with history: %v, want ErrConflict", err)
	}
	if _, err := s.AppendHistory(ctx, batch(run, 2), []byte("x"), b[0].Seq, ""); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("append after a batch that is not the last: %v, want ErrConflict", err)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.AppendHistory(ctx, batch(run, 2), fmt.Appendf(nil, "writer %d", i), b[1].Seq, "")
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, engine.ErrConflict):
			t.Fatalf("racing append: %v, want success or ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of 2 writers appending after the same batch won (%v), want exactly 1", wins, errs)
	}
	got, err := s.ReadHistory(ctx, run, 0)
	if err != nil || len(got) != 3 {
		t.Fatalf("history holds %d batches (%v), want 3: conflicting appends store nothing", len(got), err)
	}
}

// An append retried with the same message id (after a lost answer) returns
// the sequence of the first and stores the batch once, though its
// expected sequence is stale by then.
func testAppendDedupe(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	run := name("dedupe")
	prev := appendBatches(t, s, run, 1, 0)[0].Seq
	msgID := run + "-task-1"
	seq1, err := s.AppendHistory(ctx, batch(run, 1), []byte("once"), prev, msgID)
	if err != nil {
		t.Fatal(err)
	}
	seq2, err := s.AppendHistory(ctx, batch(run, 1), []byte("once"), prev, msgID)
	if err != nil {
		t.Fatalf("retried append: %v, want the first append's sequence", err)
	}
	if seq2 != seq1 {
		t.Fatalf("retried append returned seq %d, the first %d", seq2, seq1)
	}
	got, err := s.ReadHistory(ctx, run, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("history holds %d batches (%v), want 2", len(got), err)
	}
}

// FollowHistory delivers the batches after a sequence, then new ones as
// they are appended (not other runs'), until its context ends (returning
// ctx.Err()) or fn fails (returning fn's error).
func testFollowHistory(t *testing.T, s engine.Store) {
	run := name("follow")
	b := appendBatches(t, s, run, 3, 0)
	got := make(chan engine.StoredBatch, 100)
	stop := background(t, func(ctx context.Context) error {
		return s.FollowHistory(ctx, run, b[0].Seq, func(sb engine.StoredBatch) error {
			got <- sb
			return nil
		})
	})
	var seen []engine.StoredBatch
	for range 2 {
		seen = append(seen, receive(t, got, "followed batch"))
	}
	sameBatches(t, "existing batches followed", seen, b[1:])
	appendBatches(t, s, name("unrelated"), 1, 0)
	more := appendBatches(t, s, run, 1, b[2].Seq)
	sameBatches(t, "new batch followed", []engine.StoredBatch{receive(t, got, "new batch")}, more)
	nothing(t, got, "batch of another run")
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("FollowHistory returned %v when its context ended, want context.Canceled", err)
	}
	boom := errors.New("boom")
	if err := s.FollowHistory(testCtx(t), run, 0, func(engine.StoredBatch) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("FollowHistory returned %v, want fn's error", err)
	}
}

// ConsumeHistory delivers every batch of every run in the run's append
// order; a batch fn fails on comes again (before anything after it), one fn
// accepted does not, also to the next consumer of the same durable name.
func testConsumeHistory(t *testing.T, s engine.Store) {
	ra, rb := name("ra"), name("rb")
	a := appendBatches(t, s, ra, 3, 0)
	b := appendBatches(t, s, rb, 2, 0)
	// The order that counts is each run's: a store may spread runs over
	// several streams (the jetstream store's shards), whose batches then
	// interleave in any order.
	want := map[string][]uint64{ra: {a[0].Seq, a[1].Seq, a[2].Seq}, rb: {b[0].Seq, b[1].Seq}}
	var mu sync.Mutex
	seen := map[string][]uint64{}
	total := 0
	fails := 2
	stop := background(t, func(ctx context.Context) error {
		return s.ConsumeHistory(ctx, "conformance", func(bs []engine.StoredBatch) error {
			mu.Lock()
			defer mu.Unlock()
			if fails > 0 {
				fails--
				return errors.New("not now")
			}
			for _, sb := range bs {
				seen[sb.Header.RunID] = append(seen[sb.Header.RunID], sb.Seq)
				total++
			}
			return nil
		})
	})
	eventually(t, func() error {
		mu.Lock()
		defer mu.Unlock()
		if total < 5 {
			return fmt.Errorf("consumed %v, want %v", seen, want)
		}
		return nil
	})
	time.Sleep(quiet)
	mu.Lock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("consumed %v, want %v: every batch once, in each run's append order", seen, want)
	}
	mu.Unlock()
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("ConsumeHistory returned %v when its context ended, want context.Canceled", err)
	}

	c := appendBatches(t, s, name("rc"), 1, 0)
	got := make(chan uint64, 100)
	background(t, func(ctx context.Context) error {
		return s.ConsumeHistory(ctx, "conformance", func(bs []engine.StoredBatch) error {
			for _, sb := range bs {
				got <- sb.Seq
			}
			return nil
		})
	})
	if seq := receive(t, got, "batch after restart"); seq != c[0].Seq {
		t.Fatalf("after a restart the consumer got seq %d first, want %d (the batches it acknowledged are done)", seq, c[0].Seq)
	}
	nothing(t, got, "redelivery of an acknowledged batch")
}
