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

// A handler that runs several AckWaits keeps its batches in progress all
// along: the server redelivers none of them meanwhile. (AckWait 1 s: the
// in-progress tick, every third of it, has 2/3 s of slack on a loaded
// machine.)
func TestConsumeHistorySlowHandlerNotRedelivered(t *testing.T) {
	const ackWait = time.Second
	st, _ := jstest.StartIn(t, t.TempDir(), jetstream.Options{AckWait: ackWait})
	ctx := testCtx(t)
	if _, err := st.AppendHistory(ctx, header("slow-run", 1, 1), nil, 0, ""); err != nil {
		t.Fatal(err)
	}
	js, err := natsjs.New(st.Conn())
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	redelivered := make(chan int, 1)
	go func() {
		_ = st.ConsumeHistory(cctx, "slow1", func([]engine.StoredBatch) error {
			time.Sleep(3 * ackWait)
			n := -1
			// Asked before returning: an ack forgets the redeliveries.
			if c, err := js.Consumer(ctx, jetstream.HistoryStream, "slow1"); err == nil {
				if info, err := c.Info(ctx); err == nil {
					n = info.NumRedelivered
				}
			}
			select {
			case redelivered <- n:
			default:
			}
			return nil
		})
	}()
	select {
	case n := <-redelivered:
		if n != 0 {
			t.Fatalf("%d batches redelivered while the handler ran 3x AckWait (-1: consumer info failed), want 0: not kept in progress", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
	}
}
