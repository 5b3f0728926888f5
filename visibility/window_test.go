package visibility

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// winSource is a history in memory: synthetic runs, in stream order.
type winSource struct {
	batches []engine.StoredBatch
	byRun   map[string][]engine.StoredBatch
}

func (s *winSource) ConsumeHistoryFrom(ctx context.Context, afterSeq uint64, max int, fn func([]engine.StoredBatch) error) error {
	for i := int(afterSeq); i < len(s.batches); i += max {
		if err := fn(s.batches[i:min(i+max, len(s.batches))]); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *winSource) ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error) {
	return s.byRun[runID], nil
}

// index builds an index of the whole history, applied in windows of
// window batches; it is closed when the test ends.
func (s *winSource) index(t *testing.T, window int) *Index {
	t.Helper()
	ix := emptyIndex(t)
	if err := NewIndexer(ix, s, IndexerOptions{Window: window}).CatchUp(context.Background(), uint64(len(s.batches))); err != nil {
		t.Fatal(err)
	}
	return ix
}

// emptyIndex opens a new index, closed when the test ends.
func emptyIndex(t *testing.T) *Index {
	t.Helper()
	ix, err := OpenIndex(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix
}

// add appends one run: started at start, closed after d unless running.
func (s *winSource) add(t *testing.T, i int, start time.Time, d time.Duration, running bool) {
	t.Helper()
	runID := fmt.Sprintf("run-%05d", i)
	events := []engine.Event{{ID: 1, Type: engine.EventWorkflowStarted, Time: start, Attrs: &engine.WorkflowStarted{
		WorkflowID: fmt.Sprintf("wf-%05d", i), RunID: runID, WorkflowType: []string{"A", "B", "C"}[i%3], TaskQueue: "q"}}}
	events = append(events, engine.Event{ID: 2, Type: engine.EventWorkflowTaskCompleted, Time: start.Add(d / 2), Attrs: &engine.WorkflowTaskCompleted{}})
	if !running {
		events = append(events, engine.Event{ID: 3, Type: engine.EventWorkflowCompleted, Time: start.Add(d), Attrs: &engine.WorkflowCompleted{}})
	}
	s.addEvents(t, runID, events, start)
}

// addEvents appends a batch of a run's events (in most tests its whole
// history), stored at at.
func (s *winSource) addEvents(t *testing.T, runID string, events []engine.Event, at time.Time) {
	t.Helper()
	data, err := json.Marshal(engine.Batch{Kind: engine.BatchExternal, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	closed := events[len(events)-1].Type.Closes()
	b := engine.StoredBatch{Seq: uint64(len(s.batches) + 1), Data: data, Time: at,
		Header: engine.BatchHeader{RunID: runID, FirstEventID: events[0].ID, LastEventID: events[len(events)-1].ID, Closed: closed}}
	s.batches = append(s.batches, b)
	if s.byRun == nil {
		s.byRun = map[string][]engine.StoredBatch{}
	}
	s.byRun[runID] = append(s.byRun[runID], b)
}

// Searches sorted on a field every document has narrow by windows of that
// field beyond plainLimit matches; every page, forwards and backwards,
// with ties and sparse and dense matches, is the page bleve's full sort
// gives.
func TestWindowedSearchMatchesFullSort(t *testing.T) {
	src := &winSource{}
	r := rand.New(rand.NewPCG(7, 7))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		// Clusters of equal start times, a sparse tail and a dense burst.
		var start time.Time
		switch {
		case i%10 == 0:
			start = base.Add(time.Duration(r.IntN(30)) * 24 * time.Hour)
		case i%3 == 0:
			start = base.Add(time.Duration(i/50) * time.Minute)
		default:
			start = base.Add(time.Duration(r.IntN(600)) * time.Millisecond)
		}
		src.add(t, i, start, time.Duration(r.IntN(5000))*time.Millisecond, i%7 == 0)
	}
	ix := src.index(t, 700)
	ctx := context.Background()
	pages := func(q string, sort []string, size int) (ids []string) {
		t.Helper()
		req := SearchRequest{Query: q, Sort: sort, Size: size}
		for {
			res, err := ix.Search(ctx, req)
			if err != nil {
				t.Fatalf("%q %v: %v", q, sort, err)
			}
			for _, d := range res.Hits {
				ids = append(ids, d.RunID)
			}
			if len(res.Next) == 0 {
				return ids
			}
			req.After = res.Next
		}
	}
	for _, c := range []struct {
		q    string
		sort []string
		size int
	}{
		{"", nil, 97},
		{"", []string{"start_time"}, 250},
		{"type:B", []string{"-start_time"}, 13},
		{"status:running", []string{"start_time", "-run_id"}, 31},
		{"", []string{"-history_length", "start_time"}, 400},
		{"", []string{"-duration_ms"}, 333},
		{"type:A status:completed", []string{"last_event_time"}, 50},
	} {
		plainLimit = 1 << 62
		want := pages(c.q, c.sort, c.size)
		plainLimit = 0
		probes := windowProbes.Load()
		got := pages(c.q, c.sort, c.size)
		plainLimit = 4096
		if windowProbes.Load() == probes {
			t.Errorf("%q sorted %v: no window searched", c.q, c.sort)
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%q sorted %v by %d: windows give %d runs, the full sort %d (first difference at %d)",
				c.q, c.sort, c.size, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// headSource is a winSource's history that tells the indexer where it
// ends, as the jetstream Store does: at head (its last batch unless set
// further, as if the newest batches had been deleted since). With drip it
// delivers ten batches at a time, more slowly than the indexer gathers.
type headSource struct {
	*winSource
	head uint64
	drip bool
}

// runsOneSecondApart is a history of n closed runs started a second apart.
func runsOneSecondApart(t *testing.T, n int) *winSource {
	t.Helper()
	src := &winSource{}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		src.add(t, i, start.Add(time.Duration(i)*time.Second), time.Second, false)
	}
	return src
}

func (s headSource) ConsumeHistoryFrom(ctx context.Context, afterSeq uint64, max int, fn func([]engine.StoredBatch) error) error {
	if !s.drip {
		return s.winSource.ConsumeHistoryFrom(ctx, afterSeq, max, fn)
	}
	for i := int(afterSeq); i < len(s.batches); i += 10 {
		if err := fn(s.batches[i:min(i+10, len(s.batches))]); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond) // a slow reader, not a wait
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s headSource) LastHistorySeq(context.Context) (uint64, error) {
	return max(s.head, uint64(len(s.batches))), nil
}

// Far behind the head of history the indexer writes whole windows even
// when the reader delivers more slowly than it gathers; the tail is
// written as gathered.
func TestCatchUpWritesFullWindows(t *testing.T) {
	src := runsOneSecondApart(t, 1000)
	ix := emptyIndex(t)
	var sizes []uint64
	x := NewIndexer(ix, headSource{winSource: src, drip: true}, IndexerOptions{Window: 100, Gather: 10 * time.Millisecond,
		OnApplied: func(w AppliedWindow) { sizes = append(sizes, w.LastSeq-w.FirstSeq+1) }})
	if err := x.CatchUp(context.Background(), uint64(len(src.batches))); err != nil {
		t.Fatal(err)
	}
	// 1000 batches: nine full windows; the last 100 (within a window of
	// the head) in windows cut by the gather timer.
	if len(sizes) < 10 {
		t.Fatalf("window sizes %v: want nine of 100, then smaller ones", sizes)
	}
	var total uint64
	for i, n := range sizes {
		if i < 9 && n != 100 || n > 100 {
			t.Fatalf("window sizes %v: want nine of 100, then smaller ones", sizes)
		}
		total += n
	}
	if docs, _ := ix.DocCount(); total != 1000 || docs != 1000 {
		t.Fatalf("applied %d batches, %d documents: want 1000 of each", total, docs)
	}
}

// A history whose head batches are gone (deleted after the head was read)
// is still applied: the indexer stops waiting for the full window the head
// promised after maxCatchUpWait.
func TestCatchUpWithoutTheHead(t *testing.T) {
	src := runsOneSecondApart(t, 50)
	ix := emptyIndex(t)
	x := NewIndexer(ix, headSource{winSource: src, head: 1000}, IndexerOptions{Window: 100, Gather: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 4*maxCatchUpWait)
	defer cancel()
	t0 := time.Now()
	if err := x.CatchUp(ctx, uint64(len(src.batches))); err != nil {
		t.Fatal(err)
	}
	if docs, _ := ix.DocCount(); docs != 50 {
		t.Fatalf("%d documents, want 50", docs)
	}
	if took := time.Since(t0); took < maxCatchUpWait {
		t.Fatalf("applied after %v: want it to wait %v for the window the head promised", took, maxCatchUpWait)
	}
}

// interleavedRuns is a history of n runs of three batches each (started,
// a workflow task, completed), interleaved as runs in flight together
// are: a run's next batch comes about eight positions after its last.
func interleavedRuns(t *testing.T, n int) *winSource {
	t.Helper()
	type slot struct{ key, run, part int }
	var slots []slot
	for i := range n {
		for j := range 3 {
			slots = append(slots, slot{3*i + 8*j, i, j})
		}
	}
	slices.SortFunc(slots, func(a, b slot) int { return a.key - b.key })
	src := &winSource{}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range slots {
		runID, at := fmt.Sprintf("run-%05d", s.run), start.Add(time.Duration(s.key)*time.Second)
		e := engine.Event{ID: int64(s.part + 1), Time: at, Type: engine.EventWorkflowStarted,
			Attrs: &engine.WorkflowStarted{WorkflowID: fmt.Sprintf("wf-%05d", s.run), RunID: runID, WorkflowType: "A", TaskQueue: "q"}}
		switch s.part {
		case 1:
			e.Type, e.Attrs = engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}
		case 2:
			e.Type, e.Attrs = engine.EventWorkflowCompleted, &engine.WorkflowCompleted{}
		}
		src.addEvents(t, runID, []engine.Event{e}, at)
	}
	return src
}

// Far behind the head, a run whose batches two windows share is written
// once, by the later window, and the applied position never passes a
// batch whose run's document does not show it yet: a restart reads it
// again, and a reader waiting for the position sees it. Also when the run
// cache is too small to keep the runs left to the next window.
func TestCatchUpWritesEachRunOnce(t *testing.T) {
	for _, cacheRuns := range []int{20_000, 4} {
		t.Run(fmt.Sprintf("cache of %d runs", cacheRuns), func(t *testing.T) {
			const runs = 300
			src := interleavedRuns(t, runs)
			ix, err := OpenIndex(t.TempDir(), nil, WithRunCache(cacheRuns, 64))
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			written, windows := 0, 0
			check := func(w AppliedWindow) {
				written += w.Docs
				windows++
				applied := ix.AppliedSeq()
				for runID, batches := range src.byRun {
					want := 0 // events of the run up to the applied position
					for _, b := range batches {
						if b.Seq <= applied {
							want++
						}
					}
					d, ok, err := ix.docByRun(runID)
					if err != nil || want > 0 && (!ok || d.HistoryLength < int64(want)) {
						t.Errorf("window %d-%d, applied %d: %s has %d of its events indexed (%v %v), want %d",
							w.FirstSeq, w.LastSeq, applied, runID, d.HistoryLength, ok, err, want)
					}
				}
			}
			x := NewIndexer(ix, headSource{winSource: src}, IndexerOptions{Window: 100, Gather: 10 * time.Millisecond, OnApplied: check})
			if err := x.CatchUp(context.Background(), uint64(len(src.batches))); err != nil {
				t.Fatal(err)
			}
			if written != runs || windows < 9 {
				t.Fatalf("%d windows wrote %d documents: want each of the %d runs written once", windows, written, runs)
			}
			for runID := range src.byRun {
				if d, ok, err := ix.docByRun(runID); !ok || err != nil || d.Status != engine.StatusCompleted || d.HistoryLength != 3 {
					t.Fatalf("%s: %+v %v %v", runID, d, ok, err)
				}
			}
		})
	}
}
