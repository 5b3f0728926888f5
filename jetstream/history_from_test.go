package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// A reader of the whole history sees every batch of every run once, in
// stream order, from any starting position, then new batches as they land.
func TestConsumeHistoryFrom(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)

	if last, err := st.LastHistorySeq(ctx); err != nil || last != 0 {
		t.Fatalf("empty stream: last seq %d, %v", last, err)
	}
	var want []uint64
	for i := range 4 {
		want = append(want, appendN(t, st, fmt.Sprintf("run%d", i), 3, 0)...)
	}
	last, err := st.LastHistorySeq(ctx)
	if err != nil || last != want[len(want)-1] {
		t.Fatalf("last seq %d, %v; want %d", last, err, want[len(want)-1])
	}

	// consume reads from afterSeq until n batches arrived, checking the
	// size of every call.
	consume := func(afterSeq uint64, max, n int, during func()) []engine.StoredBatch {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var got []engine.StoredBatch
		errEnough := errors.New("enough")
		err := st.ConsumeHistoryFrom(cctx, afterSeq, max, func(bs []engine.StoredBatch) error {
			if len(bs) == 0 || len(bs) > max {
				t.Errorf("a call with %d batches, max %d", len(bs), max)
			}
			got = append(got, bs...)
			if during != nil {
				during()
				during = nil
			}
			if len(got) >= n {
				return errEnough
			}
			return nil
		})
		if !errors.Is(err, errEnough) {
			t.Fatalf("ConsumeHistoryFrom(%d): %v after %d batches", afterSeq, err, len(got))
		}
		return got
	}
	seqs := func(bs []engine.StoredBatch) []uint64 {
		out := make([]uint64, len(bs))
		for i, b := range bs {
			out[i] = b.Seq
		}
		return out
	}

	all := consume(0, 5, len(want), nil)
	if fmt.Sprint(seqs(all)) != fmt.Sprint(want) {
		t.Fatalf("from the start: %v, want %v", seqs(all), want)
	}
	for _, b := range all {
		if b.Header.RunID == "" || b.Header.LastEventID == 0 || b.Time.IsZero() || len(b.Data) == 0 {
			t.Fatalf("batch %d not decoded: %+v", b.Seq, b)
		}
	}
	from := consume(want[6], 100, len(want)-7, nil)
	if fmt.Sprint(seqs(from)) != fmt.Sprint(want[7:]) {
		t.Fatalf("after seq %d: %v, want %v", want[6], seqs(from), want[7:])
	}

	// Caught up, the reader waits for what is appended next (the appends
	// race the reader's start: either way both must arrive, once).
	appended := make(chan []uint64, 1)
	go func() { appended <- appendN(t, st, "late", 2, 0) }()
	tail := consume(last, 10, 2, nil)
	if late := <-appended; fmt.Sprint(seqs(tail)) != fmt.Sprint(late) {
		t.Fatalf("new batches: %v, want %v", seqs(tail), late)
	}

	at, err := st.HistoryBatchTime(ctx, want[0])
	if err != nil || !at.Equal(all[0].Time) {
		t.Fatalf("time of seq %d: %v %v, want %v", want[0], at, err, all[0].Time)
	}
	if _, err := st.HistoryBatchTime(ctx, 1_000_000); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("time of a missing seq: %v, want ErrNotFound", err)
	}
	if err := st.ConsumeHistoryFrom(ctx, 0, 0, func([]engine.StoredBatch) error { return nil }); err == nil {
		t.Fatal("max 0 accepted")
	}
}

// The reader stops when its context ends, without a handler error.
func TestConsumeHistoryFromStopsWithContext(t *testing.T) {
	st, _ := jstest.Start(t)
	appendN(t, st, "r", 1, 0)
	ctx, cancel := context.WithCancel(testCtx(t))
	err := st.ConsumeHistoryFrom(ctx, 0, 10, func([]engine.StoredBatch) error {
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
}
