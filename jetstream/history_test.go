package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func header(run string, first, last int64) engine.BatchHeader {
	return engine.BatchHeader{
		RunID: run, WorkflowID: "wf-" + run, TaskQueue: "orders", Kind: engine.BatchTask,
		FirstEventID: first, LastEventID: last,
	}
}

// appendN appends n batches to run, returning their sequences.
func appendN(t testing.TB, st *jetstream.Store, run string, n int, last uint64) []uint64 {
	t.Helper()
	ctx := testCtx(t)
	var seqs []uint64
	for i := 0; i < n; i++ {
		seq, err := st.AppendHistory(ctx, header(run, int64(i*2+1), int64(i*2+2)), fmt.Appendf(nil, "%s-%d", run, i), last, "")
		if err != nil {
			t.Fatalf("append %s #%d: %v", run, i, err)
		}
		seqs = append(seqs, seq)
		last = seq
	}
	return seqs
}

func TestAppendHistoryOCC(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)

	seq1, err := st.AppendHistory(ctx, header("run1", 1, 2), []byte("a"), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	// Two writers that both read seq1: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.AppendHistory(ctx, header("run1", 3, 4), fmt.Appendf(nil, "writer %d", i), seq1, "")
		}()
	}
	wg.Wait()
	wins, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, engine.ErrConflict):
			conflicts++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 || conflicts != 1 {
		t.Fatalf("wins=%d conflicts=%d, want 1 and 1 (%v)", wins, conflicts, errs)
	}

	// expectedSeq 0 on a run with history conflicts.
	_, err = st.AppendHistory(ctx, header("run1", 5, 5), []byte("x"), 0, "")
	if !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("append with expectedSeq 0 on a non-empty run: %v, want ErrConflict", err)
	}
	// A stale expectedSeq conflicts too, and the error names the run.
	_, err = st.AppendHistory(ctx, header("run1", 5, 5), []byte("x"), seq1, "")
	if !errors.Is(err, engine.ErrConflict) || !bytes.Contains([]byte(err.Error()), []byte("run1")) {
		t.Fatalf("stale append: %v", err)
	}
	// Another run's history is independent: 0 is right for it.
	if _, err := st.AppendHistory(ctx, header("run2", 1, 1), []byte("b"), 0, ""); err != nil {
		t.Fatal(err)
	}
}

func TestAppendHistoryDuplicateMsgID(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	seq1, err := st.AppendHistory(ctx, header("dup", 1, 2), []byte("a"), 0, "dup-1")
	if err != nil {
		t.Fatal(err)
	}
	// The retry carries the same expectedSeq (0): dedupe wins over OCC.
	seq2, err := st.AppendHistory(ctx, header("dup", 1, 2), []byte("a"), 0, "dup-1")
	if err != nil {
		t.Fatalf("duplicate append: %v", err)
	}
	if seq1 != seq2 {
		t.Fatalf("duplicate got seq %d, original %d", seq2, seq1)
	}
	got, err := st.ReadHistory(ctx, "dup", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("stored %d batches, want 1", len(got))
	}
}

func TestAppendHistoryBadInput(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	for _, run := range []string{"", "a.b", "a*", "a>", "a b", "ü"} {
		if _, err := st.AppendHistory(ctx, header(run, 1, 1), nil, 0, ""); !errors.Is(err, jetstream.ErrInvalidName) {
			t.Errorf("run id %q: %v, want ErrInvalidName", run, err)
		}
	}
	h := header("r", 1, 1)
	h.TaskQueue = "bad queue"
	if _, err := st.AppendHistory(ctx, h, nil, 0, ""); !errors.Is(err, jetstream.ErrInvalidName) {
		t.Errorf("bad queue: %v", err)
	}
	big := make([]byte, jetstream.MaxPayload+1)
	if _, err := st.AppendHistory(ctx, header("r", 1, 1), big, 0, ""); !errors.Is(err, engine.ErrTooLarge) {
		t.Errorf("oversized batch: %v, want ErrTooLarge", err)
	}
}

func TestReadHistoryManyBatchesInterleaved(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	const n = 600 // > 2 batch-gets of 256
	hostile := "wf with spaces\r\n and >*. ü😀 "
	var want []engine.StoredBatch
	var last, lastOther uint64
	for i := 0; i < n; i++ {
		h := engine.BatchHeader{
			RunID: "big", WorkflowID: hostile, TaskQueue: "q-1", Kind: engine.BatchExternal,
			FirstEventID: int64(i*3 + 1), LastEventID: int64(i*3 + 3),
			Closed: i == n-1, Wake: i%2 == 0, Derive: i%3 == 0,
		}
		data := fmt.Appendf(nil, "batch %d", i)
		seq, err := st.AppendHistory(ctx, h, data, last, "")
		if err != nil {
			t.Fatal(err)
		}
		last = seq
		want = append(want, engine.StoredBatch{Seq: seq, Header: h, Data: data})
		// Another run in between, so the run's sequences are not contiguous.
		if lastOther, err = st.AppendHistory(ctx, header("other", int64(i), int64(i)), []byte("o"), lastOther, ""); err != nil {
			t.Fatal(err)
		}
	}
	check := func(after uint64, want []engine.StoredBatch) {
		t.Helper()
		got, err := st.ReadHistory(ctx, "big", after)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("after %d: got %d batches, want %d", after, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Seq != w.Seq || g.Header != w.Header || !bytes.Equal(g.Data, w.Data) {
				t.Fatalf("after %d: batch %d = %+v %q, want %+v %q", after, i, g, g.Data, w, w.Data)
			}
			if g.Time.IsZero() || time.Since(g.Time) > time.Minute {
				t.Fatalf("batch %d time %v", i, g.Time)
			}
		}
	}
	check(0, want)
	check(want[99].Seq, want[100:])
	check(want[n-2].Seq, want[n-1:])
	check(want[n-1].Seq, nil)

	empty, err := st.ReadHistory(ctx, "nothing-here", 0)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("empty run: %v %v", empty, err)
	}

	lb, err := st.LastBatch(ctx, "big")
	if err != nil || lb.Seq != want[n-1].Seq || lb.Header != want[n-1].Header || !bytes.Equal(lb.Data, want[n-1].Data) {
		t.Fatalf("LastBatch = %+v, %v", lb, err)
	}
	if _, err := st.LastBatch(ctx, "nothing-here"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("LastBatch of empty run: %v", err)
	}
}

func TestFollowHistory(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	seqs := appendN(t, st, "f", 3, 0)

	fctx, cancel := context.WithCancel(ctx)
	got := make(chan engine.StoredBatch, 10)
	done := make(chan error, 1)
	go func() {
		done <- st.FollowHistory(fctx, "f", seqs[0], func(b engine.StoredBatch) error {
			got <- b
			return nil
		})
	}()
	next := func() engine.StoredBatch {
		t.Helper()
		select {
		case b := <-got:
			return b
		case <-time.After(5 * time.Second):
			t.Fatal("no batch followed")
		}
		return engine.StoredBatch{}
	}
	for _, want := range seqs[1:] {
		if b := next(); b.Seq != want {
			t.Fatalf("followed seq %d, want %d", b.Seq, want)
		}
	}
	more := appendN(t, st, "f", 1, seqs[2])
	appendN(t, st, "unrelated", 1, 0)
	if b := next(); b.Seq != more[0] || b.Header.RunID != "f" {
		t.Fatalf("followed %+v, want seq %d", b, more[0])
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("FollowHistory returned %v", err)
	}

	// fn's error ends it and is returned.
	boom := errors.New("boom")
	if err := st.FollowHistory(ctx, "f", 0, func(engine.StoredBatch) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("FollowHistory returned %v, want boom", err)
	}
}

func TestConsumeHistoryRetriesInOrder(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	a := appendN(t, st, "ra", 3, 0)
	b := appendN(t, st, "rb", 2, 0)

	var mu sync.Mutex
	var seen []uint64
	fails := 2
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- st.ConsumeHistory(cctx, "indexer", func(bs []engine.StoredBatch) error {
			mu.Lock()
			defer mu.Unlock()
			if fails > 0 {
				fails--
				return errors.New("index unavailable")
			}
			for _, b := range bs {
				seen = append(seen, b.Seq)
			}
			return nil
		})
	}()
	want := []uint64{a[0], a[1], a[2], b[0], b[1]}
	jstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < len(want) {
			return fmt.Errorf("seen %v", seen)
		}
		return nil
	})
	mu.Lock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("seen %v, want %v (in order, each once)", seen, want)
	}
	mu.Unlock()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("ConsumeHistory returned %v", err)
	}

	// Restart the consumer: acked batches are not redelivered, new ones are.
	c := appendN(t, st, "ra", 1, a[2])
	got := make(chan []uint64, 10)
	cctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	go func() {
		_ = st.ConsumeHistory(cctx2, "indexer", func(bs []engine.StoredBatch) error {
			var s []uint64
			for _, b := range bs {
				s = append(s, b.Seq)
			}
			got <- s
			return nil
		})
	}()
	select {
	case s := <-got:
		if fmt.Sprint(s) != fmt.Sprint(c) {
			t.Fatalf("after restart got %v, want only %v", s, c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing consumed after restart")
	}
	select {
	case s := <-got:
		t.Fatalf("unexpected redelivery %v", s)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestConsumeHistoryManyInOrderAndSlowHandler(t *testing.T) {
	st, _ := jstest.StartIn(t, t.TempDir(), jetstream.Options{AckWait: 300 * time.Millisecond})
	ctx := testCtx(t)
	var want []uint64
	lasts := map[string]uint64{}
	for i := 0; i < 1200; i++ { // more than one gather of 512
		run := fmt.Sprintf("r%d", i%7)
		seq, err := st.AppendHistory(ctx, header(run, int64(i), int64(i)), nil, lasts[run], "")
		if err != nil {
			t.Fatal(err)
		}
		lasts[run] = seq
		want = append(want, seq)
	}
	var mu sync.Mutex
	var seen []uint64
	calls := 0
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = st.ConsumeHistory(cctx, "slow", func(bs []engine.StoredBatch) error {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				// Longer than AckWait: kept in progress, not redelivered.
				time.Sleep(time.Second)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, b := range bs {
				seen = append(seen, b.Seq)
			}
			return nil
		})
	}()
	jstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < len(want) {
			return fmt.Errorf("seen %d of %d", len(seen), len(want))
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("seen %d batches, want %d, in append order, each once", len(seen), len(want))
	}
	if calls < 3 {
		t.Fatalf("fn called %d times for %d batches: want gathers of at most 512", calls, len(want))
	}
}

// Followers that end delete their consumer: a client waiting on thousands
// of results one after another must not hit the server's consumer cap.
func TestFollowHistoryLeavesNoConsumers(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	run := "0b5e1f4c-1111-4e0b-9a4f-000000000001"
	appendN(t, st, run, 1, 0)
	stop := errors.New("seen")
	for range 50 {
		err := st.FollowHistory(ctx, run, 0, func(engine.StoredBatch) error { return stop })
		if !errors.Is(err, stop) {
			t.Fatal(err)
		}
	}
	js, err := natsjs.New(st.Conn())
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, jetstream.HistoryStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Consumers; n > 1 {
		t.Fatalf("%d consumers left on %s after 50 finished follows", n, jetstream.HistoryStream)
	}
}
