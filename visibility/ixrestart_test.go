package visibility_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/foremanhq/foreman/visibility"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// ixSame fails unless a and b hold the same documents with the same indexed
// values.
func ixSame(t *testing.T, a, b *visibility.Index, wantDocs int) {
	t.Helper()
	da, db := ixAllDocs(t, a), ixAllDocs(t, b)
	if len(da) != wantDocs || !reflect.DeepEqual(da, db) {
		t.Fatalf("documents differ: %d and %d (want %d)", len(da), len(db), wantDocs)
	}
	fa, err := a.Fingerprints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.Fingerprints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fa, fb) {
		for id, fp := range fa {
			if fb[id] != fp {
				t.Errorf("run %s: fingerprint %s, rebuilt %s", id, fp, fb[id])
				ta, _ := a.DocTerms(context.Background(), id)
				tb, _ := b.DocTerms(context.Background(), id)
				for f, v := range ta {
					if !reflect.DeepEqual(v, tb[f]) {
						t.Errorf("run %s field %s: %q, rebuilt %q", id, f, v, tb[f])
					}
				}
			}
		}
		t.FailNow()
	}
	// DocTerms reads what the fingerprints hash (the kill test prints it
	// when they differ).
	for id := range fa {
		ta, err := a.DocTerms(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := b.DocTerms(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ta["run_id"]) != 1 || ta["run_id"][0] != id || !reflect.DeepEqual(ta, tb) {
			t.Fatalf("run %s: terms %v, rebuilt %v", id, ta, tb)
		}
		break
	}
	if none, err := a.DocTerms(context.Background(), "no-such-run"); err != nil || none != nil {
		t.Fatalf("terms of a missing run: %v, %v", none, err)
	}
}

// ixQuickRuns starts n ixQuick runs and waits for them to complete.
func (e *ixEnv) quickRuns(prefix string, n int) {
	e.t.Helper()
	for i := range n {
		e.start(fmt.Sprintf("%s-%d", prefix, i), ixQuick, i)
	}
	for i := range n {
		if err := e.client.GetResult(e.ctx, fmt.Sprintf("%s-%d", prefix, i), "", nil); err != nil {
			e.t.Fatal(err)
		}
	}
}

// A closed and reopened index resumes exactly where it stopped: what
// happened while it was closed (new runs, and new batches of runs it had
// indexed half-way) is indexed, and it equals an index built from scratch.
func TestIndexResumesAfterRestart(t *testing.T) {
	e := newIxEnv(t)
	dir := t.TempDir()
	ix, stop := e.openIndex(dir)
	e.quickRuns("before", 15)
	e.start("signal-1", ixWaitSignal, "x")
	e.waitUntil("signal-1 waiting", func() error {
		x, err := e.client.Describe(e.ctx, "signal-1", "")
		if err != nil || x.HistoryLength < 2 {
			return fmt.Errorf("not yet: %v", err)
		}
		return nil
	})
	e.caughtUp(ix)
	applied := ix.AppliedSeq()
	stop()

	e.quickRuns("while-closed", 15)
	if err := e.client.Signal(e.ctx, "signal-1", "", "go", "after restart"); err != nil {
		t.Fatal(err)
	}
	e.waitUntil("signal-1 past go", func() error {
		x, err := e.client.Describe(e.ctx, "signal-1", "")
		if err != nil || x.StatusLine != "got after restart" {
			return fmt.Errorf("not yet: %v", err)
		}
		return nil
	})

	ix, _ = e.openIndex(dir)
	if got := ix.AppliedSeq(); got != applied {
		t.Fatalf("reopened at %d, closed at %d", got, applied)
	}
	e.caughtUp(ix)
	if d := ixDoc(t, ix, "signal-1"); d.StatusLine != "got after restart" || d.WaitingOn != "signal" {
		t.Fatalf("signal-1 after restart: %+v", d)
	}
	scratch, _ := e.openIndex(t.TempDir())
	e.caughtUp(scratch)
	ixSame(t, ix, scratch, 31)
}

// An index that cannot be used (corrupt shard, metadata lost, written by
// another mapping or shard count) is rebuilt from history on open; one in
// use by another process is refused.
func TestIndexRebuildsWhenUnusable(t *testing.T) {
	e := newIxEnv(t)
	dir := t.TempDir()
	ix, stop := e.openIndex(dir)
	e.quickRuns("run", 10)
	e.caughtUp(ix)
	if _, err := visibility.OpenIndex(dir, ixLogger()); !errors.Is(err, visibility.ErrIndexInUse) {
		t.Fatalf("second open of an index in use: %v", err)
	}
	stop()

	damage := map[string]func(t *testing.T){
		"corrupt shard": func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "shard-1", "store", "root.bolt"), []byte("not a bolt file"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"metadata lost": func(t *testing.T) {
			if err := os.Remove(filepath.Join(dir, "foreman-index.json")); err != nil {
				t.Fatal(err)
			}
		},
		"another mapping": func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "foreman-index.json"), []byte(`{"version":"old","shards":2}`), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"directory gone": func(t *testing.T) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		},
	}
	for _, name := range []string{"corrupt shard", "metadata lost", "another mapping", "directory gone"} {
		t.Run(name, func(t *testing.T) {
			damage[name](t)
			ix, stop := e.openIndex(dir)
			defer stop()
			e.caughtUp(ix)
			if n, err := ix.DocCount(); err != nil || n != 10 {
				t.Fatalf("rebuilt index has %d documents (%v), want 10", n, err)
			}
		})
	}
	// A different shard count rebuilds too, and the result is the same.
	ix1, stop1 := e.openIndex(dir, visibility.WithShards(1))
	defer stop1()
	e.caughtUp(ix1)
	scratch, _ := e.openIndex(t.TempDir(), visibility.WithShards(3))
	e.caughtUp(scratch)
	ixSame(t, ix1, scratch, 10)
}

// A search can wait until the index has applied a given history position:
// read-your-writes after an action. Waiting is bounded by the request.
func TestWaitForSeq(t *testing.T) {
	e := newIxEnv(t)
	ix, err := visibility.OpenIndex(t.TempDir(), ixLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	e.start("late-1", ixQuick, 1)
	if err := e.client.GetResult(e.ctx, "late-1", "", nil); err != nil {
		t.Fatal(err)
	}
	seq, err := e.store.LastHistorySeq(e.ctx)
	if err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = ix.Search(short, visibility.SearchRequest{Query: "workflow_id:late-1", WaitForSeq: seq})
	cancel()
	var ae *visibility.APIError
	if !errors.As(err, &ae) || ae.Code != searchapi.CodeTimeout {
		t.Fatalf("waiting on an index without an indexer: %v", err)
	}

	got := make(chan *visibility.SearchResult, 1)
	go func() {
		res, err := ix.Search(e.ctx, visibility.SearchRequest{Query: "workflow_id:late-1", WaitForSeq: seq})
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = visibility.NewIndexer(ix, e.store, visibility.IndexerOptions{Logger: ixLogger()}).Run(ctx)
	}()
	defer func() { stop(); <-done }()
	if res := <-got; res == nil || res.Total != 1 || res.Hits[0].WorkflowID != "late-1" {
		t.Fatalf("search waiting for seq %d: %+v", seq, res)
	}
	if ix.AppliedSeq() < seq {
		t.Fatalf("answered at applied seq %d < %d", ix.AppliedSeq(), seq)
	}
}

// Refusals are *APIError with a code, and a position for bad queries.
func TestSearchErrors(t *testing.T) {
	e := newIxEnv(t)
	ix, _ := e.openIndex(t.TempDir())
	e.quickRuns("run", 3)
	e.caughtUp(ix)
	ctx := context.Background()
	check := func(what string, err error, code string) *visibility.APIError {
		t.Helper()
		var ae *visibility.APIError
		if !errors.As(err, &ae) || ae.Code != code || ae.Message == "" {
			t.Errorf("%s: %v, want an APIError %s", what, err, code)
			return &visibility.APIError{}
		}
		return ae
	}
	_, err := ix.Search(ctx, visibility.SearchRequest{Query: "WorkflowType = "})
	if ae := check("missing value", err, searchapi.CodeBadQuery); ae.Pos != len("WorkflowType = ") || ae.Expected == "" {
		t.Errorf("missing value: pos %d expected %q", ae.Pos, ae.Expected)
	}
	_, err = ix.Search(ctx, visibility.SearchRequest{Query: "statuss:running"})
	if ae := check("unknown field", err, searchapi.CodeBadQuery); ae.Pos != 0 {
		t.Errorf("unknown field: pos %d", ae.Pos)
	}
	_, err = ix.Count(ctx, visibility.CountRequest{Query: "status:(running"})
	check("count with a bad query", err, searchapi.CodeBadQuery)
	_, err = ix.Search(ctx, visibility.SearchRequest{Size: -1})
	check("negative size", err, searchapi.CodeBadRequest)
	_, err = ix.Search(ctx, visibility.SearchRequest{Size: visibility.MaxPageSize + 1})
	check("size too large", err, searchapi.CodeBadRequest)
	_, err = ix.Search(ctx, visibility.SearchRequest{Sort: []string{"start_time", "failure"}})
	if ae := check("sort by text", err, searchapi.CodeBadRequest); ae.Pos != len("start_time,") {
		t.Errorf("sort by text: pos %d", ae.Pos)
	}
	_, err = ix.Search(ctx, visibility.SearchRequest{Facets: []string{"history"}})
	check("facet on text", err, searchapi.CodeBadRequest)
	_, err = ix.Search(ctx, visibility.SearchRequest{After: []string{"zz", "00"}})
	check("malformed cursor", err, searchapi.CodeBadRequest)
	_, err = ix.Search(ctx, visibility.SearchRequest{After: []string{"00"}})
	check("cursor of another sort", err, searchapi.CodeBadRequest)
	_, err = ix.Count(ctx, visibility.CountRequest{GroupBy: "duration_ms"})
	check("group by a number", err, searchapi.CodeBadRequest)
}
