package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

var runTests = []test{
	{"CreateIsCreateOnly", testCreateRun},
	{"ConcurrentCreatesOneWins", testConcurrentCreate},
	{"ReplaceComparesRevision", testReplaceRun},
	{"List", testListRuns},
}

// workflowIDs are ids a user may choose: the registry takes any string.
var workflowIDs = []string{"order-1", "a.b", "x y", "*", ">", "ü/😀", "a.b.", "$JS.API", "\x00\r\n"}

func record(runID string) engine.RunRecord {
	return engine.RunRecord{
		RunID: runID, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Start: []byte("start of " + runID),
		StartHeader: engine.BatchHeader{RunID: runID, WorkflowID: "wf", TaskQueue: "q", Kind: engine.BatchExternal, FirstEventID: 1, LastEventID: 1, Wake: true},
	}
}

func sameRecord(t *testing.T, id string, got, want engine.RunRecord) {
	t.Helper()
	if got.RunID != want.RunID || !got.CreatedAt.Equal(want.CreatedAt) || string(got.Start) != string(want.Start) || got.StartHeader != want.StartHeader {
		t.Fatalf("record of %q read back as %+v, want %+v", id, got, want)
	}
}

// A workflow id holds one record: the first create wins, a second fails
// with ErrExists and changes nothing; GetRun returns the record as
// written and its revision; an unknown id is ErrNotFound.
func testCreateRun(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	for _, id := range workflowIDs {
		rec := record(name("run"))
		rev, err := s.CreateRun(ctx, id, rec)
		if err != nil {
			t.Fatalf("create %q: %v", id, err)
		}
		if _, err := s.CreateRun(ctx, id, record(name("run"))); !errors.Is(err, engine.ErrExists) {
			t.Fatalf("second create of %q: %v, want ErrExists", id, err)
		}
		got, grev, err := s.GetRun(ctx, id)
		if err != nil {
			t.Fatalf("get %q: %v", id, err)
		}
		sameRecord(t, id, got, rec)
		if grev != rev {
			t.Fatalf("get %q: revision %d, create returned %d", id, grev, rev)
		}
	}
	if _, _, err := s.GetRun(ctx, "never-created"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get of an unknown id: %v, want ErrNotFound", err)
	}
}

// Of starters racing to create the same workflow id, exactly one wins
// (workflow id uniqueness), and its record is the one stored.
func testConcurrentCreate(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	const starters = 8
	recs := make([]engine.RunRecord, starters)
	errs := make([]error, starters)
	var wg sync.WaitGroup
	for i := range starters {
		recs[i] = record(name("run"))
		wg.Go(func() { _, errs[i] = s.CreateRun(ctx, "contended", recs[i]) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("starters %d and %d both created the record", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, engine.ErrExists):
			t.Fatalf("starter %d: %v, want success or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no starter created the record")
	}
	got, _, err := s.GetRun(ctx, "contended")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, "contended", got, recs[winner])
}

// ReplaceRun succeeds at the current revision, returning a new one, and
// fails with ErrConflict at any other, changing nothing.
func testReplaceRun(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	id := "ü/😀 replace"
	rev, err := s.CreateRun(ctx, id, record("run-1"))
	if err != nil {
		t.Fatal(err)
	}
	next := record("run-2")
	nrev, err := s.ReplaceRun(ctx, id, next, rev)
	if err != nil {
		t.Fatalf("replace at the current revision: %v", err)
	}
	if nrev == rev {
		t.Fatalf("replace returned the old revision %d", rev)
	}
	if _, err := s.ReplaceRun(ctx, id, record("run-3"), rev); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("replace at a stale revision: %v, want ErrConflict", err)
	}
	got, grev, err := s.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, id, got, next)
	if grev != nrev {
		t.Fatalf("revision %d after replace, replace returned %d", grev, nrev)
	}
}

// ListRuns calls fn once for every record (none for an empty registry)
// and stops at fn's first error, returning it.
func testListRuns(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	if err := s.ListRuns(ctx, func(id string, _ engine.RunRecord) error {
		t.Errorf("ListRuns of an empty registry listed %q", id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, id := range workflowIDs {
		rec := record(name("run"))
		if _, err := s.CreateRun(ctx, id, rec); err != nil {
			t.Fatal(err)
		}
		want[id] = rec.RunID
	}
	var listed []string
	if err := s.ListRuns(ctx, func(id string, rec engine.RunRecord) error {
		if rec.RunID != want[id] {
			t.Errorf("listed %q with run %q, want %q", id, rec.RunID, want[id])
		}
		listed = append(listed, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	ids := slices.Sorted(slices.Values(workflowIDs))
	if !slices.Equal(listed, ids) {
		t.Fatalf("listed %q, want %q", listed, ids)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.ListRuns(ctx, func(string, engine.RunRecord) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("ListRuns with a failing fn returned %v after %d calls, want fn's error after 1", err, n)
	}
}
