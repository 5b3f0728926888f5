package jetstream_test

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func TestRuns(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	ids := []string{"a.b", "x y", "*", ">", "ü/😀", "plain", "a.b.", "$JS.API", "\x00\r\n"}
	now := time.Now().UTC().Truncate(time.Millisecond)
	revs := map[string]uint64{}
	for i, id := range ids {
		rec := engine.RunRecord{RunID: "run-" + string(rune('a'+i)), CreatedAt: now, Start: []byte(id), StartHeader: engine.BatchHeader{WorkflowID: id}}
		rev, err := st.CreateRun(ctx, id, rec)
		if err != nil {
			t.Fatalf("create %q: %v", id, err)
		}
		revs[id] = rev
		if _, err := st.CreateRun(ctx, id, rec); !errors.Is(err, engine.ErrExists) {
			t.Fatalf("second create %q: %v, want ErrExists", id, err)
		}
		got, grev, err := st.GetRun(ctx, id)
		if err != nil || grev != rev || got.RunID != rec.RunID || string(got.Start) != id || !got.CreatedAt.Equal(now) || got.StartHeader.WorkflowID != id {
			t.Fatalf("get %q = %+v rev %d, %v; want %+v rev %d", id, got, grev, err, rec, rev)
		}
	}
	if _, _, err := st.GetRun(ctx, "missing"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := st.CreateRun(ctx, "", engine.RunRecord{}); !errors.Is(err, jetstream.ErrInvalidName) {
		t.Fatalf("empty workflow id: %v", err)
	}

	// Replace with compare-and-swap.
	id := "ü/😀"
	nrev, err := st.ReplaceRun(ctx, id, engine.RunRecord{RunID: "run-2"}, revs[id])
	if err != nil || nrev <= revs[id] {
		t.Fatalf("replace: rev %d, %v", nrev, err)
	}
	if _, err := st.ReplaceRun(ctx, id, engine.RunRecord{RunID: "run-3"}, revs[id]); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("replace at stale revision: %v, want ErrConflict", err)
	}
	if got, _, _ := st.GetRun(ctx, id); got.RunID != "run-2" {
		t.Fatalf("after replace: %+v", got)
	}

	var listed []string
	if err := st.ListRuns(ctx, func(wf string, rec engine.RunRecord) error {
		listed = append(listed, wf)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(listed)
	want := append([]string(nil), ids...)
	sort.Strings(want)
	if len(listed) != len(want) {
		t.Fatalf("listed %q, want %q", listed, want)
	}
	for i := range want {
		if listed[i] != want[i] {
			t.Fatalf("listed %q, want %q", listed, want)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := st.ListRuns(ctx, func(string, engine.RunRecord) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("ListRuns with failing fn: %v after %d", err, n)
	}
}

func TestListRunsEmpty(t *testing.T) {
	st, _ := jstest.Start(t)
	if err := st.ListRuns(testCtx(t), func(string, engine.RunRecord) error {
		t.Fatal("called on an empty registry")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
