package visibility_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// The search API over NATS: what the CLI and console get through Client is
// what the index answers, refusals arrive typed, and update notices follow
// applied history.
func TestSearchAPIOverNATS(t *testing.T) {
	e := newIxEnv(t)
	ctx := context.Background()
	c := visibility.NewClient(e.store)
	if _, err := c.Lag(ctx); !errors.Is(err, engine.ErrNoResponders) || !strings.Contains(err.Error(), "foreman-engine") {
		t.Fatalf("no engine serving: %v", err)
	}

	ix, stopIndexer := e.openIndex(t.TempDir())
	// The engine passes notify to its indexer as IndexerOptions.Notify.
	notify, stopNotify := visibility.UpdateNotifier(e.store, 20*time.Millisecond)
	defer stopNotify()
	stop, err := visibility.Serve(ix, e.store)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	updCtx, cancelUpd := context.WithCancel(ctx)
	defer cancelUpd()
	updates, err := c.Updates(updCtx)
	if err != nil {
		t.Fatal(err)
	}

	e.quickRuns("api", 12)
	e.caughtUp(ix)
	req := visibility.SearchRequest{Query: "type:ixQuick", Size: 5, Facets: []string{"status"}}
	want, err := ix.Search(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Search(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got.TookMS, want.TookMS = 0, 0
	if !reflect.DeepEqual(got, *want) || got.Total != 12 || len(got.Hits) != 5 || len(got.Next) == 0 ||
		!reflect.DeepEqual(got.Facets["status"], []visibility.Group{{Value: "completed", Count: 12}}) {
		t.Fatalf("over NATS: %+v\ndirect: %+v", got, *want)
	}
	req.After = got.Next
	if page2, err := c.Search(ctx, req); err != nil || len(page2.Hits) != 5 || page2.Hits[0].RunID == got.Hits[4].RunID {
		t.Fatalf("second page: %+v %v", page2, err)
	}
	cnt, err := c.Count(ctx, visibility.CountRequest{Query: "workflow_id:api-1*", GroupBy: "type"})
	if err != nil || cnt.Total != 3 || !reflect.DeepEqual(cnt.Groups, []visibility.Group{{Value: "ixQuick", Count: 3}}) {
		t.Fatalf("count: %+v %v", cnt, err)
	}
	gr, err := c.Get(ctx, visibility.GetRequest{WorkflowIDs: []string{"api-3", "nope"}})
	if err != nil || len(gr.Docs) != 1 || gr.Docs[0].WorkflowID != "api-3" || !reflect.DeepEqual(gr.Missing, []string{"nope"}) {
		t.Fatalf("get: %+v %v", gr, err)
	}
	last, _ := e.store.LastHistorySeq(ctx)
	lag, err := c.Lag(ctx)
	if err != nil || lag.AppliedSeq != last || lag.HistorySeq != last || lag.Behind != 0 || lag.LagMS != 0 || lag.Docs != 12 {
		t.Fatalf("lag caught up: %+v %v (history at %d)", lag, err, last)
	}

	_, err = c.Search(ctx, visibility.SearchRequest{Query: "ExecutionStatus = "})
	var ae *visibility.APIError
	if !errors.As(err, &ae) || ae.Code != searchapi.CodeBadQuery || ae.Pos != len("ExecutionStatus = ") || ae.Expected == "" {
		t.Fatalf("bad query over NATS: %#v", err)
	}
	raw, err := e.store.Request(ctx, searchapi.SubjectCount, []byte("{not json"))
	if err != nil || !strings.Contains(string(raw), `"code":"bad_request"`) {
		t.Fatalf("malformed request: %s %v", raw, err)
	}

	notify()
	select {
	case <-updates:
	case <-time.After(5 * time.Second):
		t.Fatal("no update notice")
	}

	stopIndexer()
}

// Lag counts the batches an index has not applied and the age of the
// oldest.
func TestLagBehind(t *testing.T) {
	e := newIxEnv(t)
	ctx := context.Background()
	ix, err := visibility.OpenIndex(t.TempDir(), ixLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	e.quickRuns("first", 3)
	seq, _ := e.store.LastHistorySeq(ctx)
	notices := 0
	if err := visibility.NewIndexer(ix, e.store, visibility.IndexerOptions{Notify: func() { notices++ }}).CatchUp(ctx, seq); err != nil {
		t.Fatal(err)
	}
	if notices == 0 {
		t.Fatal("the indexer applied history without notifying")
	}
	e.quickRuns("unindexed", 2)
	last, _ := e.store.LastHistorySeq(ctx)
	oldest, err := e.store.HistoryBatchTime(ctx, ix.AppliedSeq()+1)
	if err != nil {
		t.Fatal(err)
	}
	lag, err := ix.Lag(ctx, e.store)
	if err != nil || lag.AppliedSeq < seq || lag.HistorySeq != last || lag.Behind != last-lag.AppliedSeq || lag.Behind == 0 ||
		lag.LagMS < float64(time.Since(oldest).Milliseconds())-1 || lag.Docs != 3 {
		t.Fatalf("lag: %+v %v (history at %d, oldest unapplied %v ago)", lag, err, last, time.Since(oldest))
	}
}
