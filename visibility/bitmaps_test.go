package visibility

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/search"
	bq "github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/query"
)

// Filters evaluated as bitmaps match what bleve's own searchers match,
// documents updated across segments (so deleted in older ones) included.
func TestFiltersMatchBleve(t *testing.T) {
	src := &winSource{}
	r := rand.New(rand.NewPCG(5, 9))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	type open struct {
		runID string
		next  int64
		at    time.Time
	}
	var running []open
	appendBatch := func(runID string, first int64, events []engine.Event, at time.Time) {
		for i := range events {
			events[i].ID = first + int64(i)
		}
		data, err := json.Marshal(engine.Batch{Kind: engine.BatchExternal, Events: events})
		if err != nil {
			t.Fatal(err)
		}
		b := engine.StoredBatch{Seq: uint64(len(src.batches) + 1), Data: data, Time: at, Header: engine.BatchHeader{RunID: runID,
			FirstEventID: first, LastEventID: first + int64(len(events)) - 1, Closed: events[len(events)-1].Type.Closes()}}
		src.batches = append(src.batches, b)
		if src.byRun == nil {
			src.byRun = map[string][]engine.StoredBatch{}
		}
		src.byRun[runID] = append(src.byRun[runID], b)
	}
	for i := range 1500 {
		at := base.Add(time.Duration(i)*time.Minute + time.Duration(r.IntN(60))*time.Second)
		runID := fmt.Sprintf("run-%05d", i)
		appendBatch(runID, 1, []engine.Event{{Type: engine.EventWorkflowStarted, Time: at, Attrs: &engine.WorkflowStarted{
			WorkflowID: fmt.Sprintf("wf-%05d", i), RunID: runID, WorkflowType: []string{"A", "B", "C"}[r.IntN(3)], TaskQueue: []string{"q1", "q2"}[r.IntN(2)]}}}, at)
		running = append(running, open{runID, 2, at})
		// Some runs move on later: their documents are rewritten in a
		// later window, deleted from the segment that held them.
		if len(running) > 40 {
			j := r.IntN(len(running))
			o := running[j]
			running = slices.Delete(running, j, j+1)
			end := o.at.Add(time.Duration(r.IntN(3600)) * time.Second)
			events := []engine.Event{{Type: engine.EventProgressSet, Time: end, Attrs: &engine.ProgressSet{Seq: 1, Done: int64(r.IntN(10)), Total: 10}}}
			if r.IntN(3) > 0 {
				events = append(events, engine.Event{Type: engine.EventWorkflowCompleted, Time: end, Attrs: &engine.WorkflowCompleted{Seq: 2}})
			}
			appendBatch(o.runID, o.next, events, end)
		}
	}
	ix := src.index(t, 97)
	ctx := context.Background()
	mid := base.Add(750 * time.Minute).Format(time.RFC3339)
	for _, qs := range []string{
		`type:A status:running`,
		`type:A -status:running`,
		`(type:A OR type:B) task_queue:q2`,
		`-type:C`,
		`start_time:>"` + mid + `" type:B`,
		`start_time:<"` + mid + `" OR close_time:>"` + mid + `"`,
		`progress_pct:>=50 -task_queue:q1`,
		`duration_ms:[600000 TO *] (status:completed OR type:C)`,
		`-(type:A status:completed) history_length:>1`,
	} {
		q, err := query.Parse(qs, ix.reg.Schema(), time.Now())
		if err != nil {
			t.Fatalf("%s: %v", qs, err)
		}
		q = ix.rewriteRanges(q)
		f := asFilter(q)
		if _, ok := f.(*filterQuery); !ok {
			t.Fatalf("%s: not evaluated as bitmaps (%T)", qs, q)
		}
		var got, want []string
		for k := range ix.shards {
			got = append(got, matchIDs(t, ix, k, f)...)
			want = append(want, matchIDs(t, ix, k, q)...)
		}
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || len(want) == ix.mustCount(t) || !slices.Equal(got, want) {
			t.Errorf("%s: bitmaps find %d runs, bleve %d (first difference at %d)", qs, len(got), len(want), firstDiff(got, want))
		}
		n, exact, _, err := ix.count(ctx, f, 0)
		if err != nil || !exact || n != uint64(len(want)) {
			t.Errorf("%s: count %d (exact %v, %v), want %d", qs, n, exact, err, len(want))
		}
	}
}

func (ix *Index) mustCount(t *testing.T) int {
	n, err := ix.DocCount()
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// matchIDs lists the run ids q matches in shard k, by stepping its
// searcher (and its Advance, every other step).
func matchIDs(t *testing.T, ix *Index, k int, q bq.Query) []string {
	t.Helper()
	var ids []string
	err := ix.withReaders(func(shard int, r index.IndexReader) error {
		if shard != k {
			return nil
		}
		s, err := q.Searcher(context.Background(), r, ix.mapping, search.SearcherOptions{Score: "none"})
		if err != nil {
			return err
		}
		defer s.Close()
		sctx := &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(s.DocumentMatchPoolSize()+1, 0), IndexReader: r}
		var next index.IndexInternalID
		for i := 0; ; i++ {
			var dm *search.DocumentMatch
			if i%2 == 1 && next != nil {
				dm, err = s.Advance(sctx, next)
			} else {
				dm, err = s.Next(sctx)
			}
			if err != nil || dm == nil {
				return err
			}
			id, err := r.ExternalID(dm.IndexInternalID)
			if err != nil {
				return err
			}
			ids = append(ids, id)
			next = index.NewIndexInternalID(nil, dm.IndexInternalID.Value()+1)
			sctx.DocumentMatchPool.Put(dm)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
