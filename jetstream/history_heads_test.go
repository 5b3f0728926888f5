package jetstream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// A reader of history headers gets every batch after its position, in
// order, with its header and without its data.
func TestFollowHistoryHeaders(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	appendN(t, st, "before", 2, 0)
	from, err := st.LastHistorySeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := appendN(t, st, "a", 3, 0)
	want = append(want, appendN(t, st, "b", 2, 0)...)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got []engine.StoredBatch
	errEnough := errors.New("enough")
	err = st.FollowHistoryHeaders(cctx, from, func(bs []engine.StoredBatch) error {
		got = append(got, bs...)
		if len(got) >= len(want) {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("FollowHistoryHeaders: %v after %d batches", err, len(got))
	}
	for i, b := range got {
		if b.Seq != want[i] || len(b.Data) != 0 || b.Header.RunID == "" || b.Header.RunID == "before" {
			t.Fatalf("batch %d: seq %d (want %d), run %q, %d bytes of data (want headers only)", i, b.Seq, want[i], b.Header.RunID, len(b.Data))
		}
	}
}
