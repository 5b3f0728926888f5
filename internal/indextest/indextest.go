// Package indextest gives tests a real search index (bleve, scorch) fed
// by its indexer from a real embedded JetStream, and a way to write
// fixture histories (crafted events, dated in the past) that the indexer
// indexes as it indexes any run: how a test gets runs that have been stuck
// for an hour without waiting an hour.
package indextest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Index is an open index and its running indexer.
type Index struct {
	*visibility.Index
	store *jetstream.Store
	stop  func()
}

// Start opens an index in dir (reuse dir to test a restart) and runs its
// indexer over store until Stop or the test's end.
func Start(t testing.TB, store *jetstream.Store, dir string) *Index {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	ix, err := visibility.OpenIndex(dir, log)
	if err != nil {
		t.Fatalf("indextest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		x := visibility.NewIndexer(ix, store, visibility.IndexerOptions{Logger: log})
		if err := x.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("indextest: indexer: %v", err)
		}
	}()
	i := &Index{Index: ix, store: store}
	stopped := false
	i.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		_ = ix.Close()
	}
	t.Cleanup(i.stop)
	return i
}

// Stop ends the indexer and closes the index.
func (i *Index) Stop() { i.stop() }

// Search is the index's Search as the search API's client returns it.
func (i *Index) Search(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error) {
	res, err := i.Index.Search(ctx, req)
	if err != nil {
		return searchapi.SearchResult{}, err
	}
	return *res, nil
}

// Count is the index's Count as the search API's client returns it.
func (i *Index) Count(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error) {
	res, err := i.Index.Count(ctx, req)
	if err != nil {
		return searchapi.CountResult{}, err
	}
	return *res, nil
}

// CatchUp waits until the index applied every history batch written so far.
func (i *Index) CatchUp(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq, err := i.store.LastHistorySeq(ctx)
	if err != nil {
		t.Fatalf("indextest: %v", err)
	}
	if err := i.WaitForSeq(ctx, seq); err != nil {
		t.Fatalf("indextest: waiting for the index: %v", err)
	}
}

// Run builds a fixture history: a run of workflow id on queue, started at
// At, then Events (their types and attributes; ids and times are filled in,
// a second apart). Closed says an event closes the run.
type Run struct {
	ID, Queue, Type string
	At              time.Time
	Events          []engine.Event
	Closed          bool
}

// Ev is an event of a fixture.
func Ev(typ engine.EventType, attrs any) engine.Event { return engine.Event{Type: typ, Attrs: attrs} }

// Write appends r's history in one external batch (it wakes nobody and
// derives no task: no worker or dispatcher acts on it) and returns the run id.
func Write(t testing.TB, store engine.Store, r Run) string {
	t.Helper()
	runID := "run-" + r.ID
	typ := r.Type
	if typ == "" {
		typ = "Fixture"
	}
	events := []engine.Event{{ID: 1, Type: engine.EventWorkflowStarted, Time: r.At,
		Attrs: &engine.WorkflowStarted{WorkflowID: r.ID, RunID: runID, WorkflowType: typ, TaskQueue: r.Queue, Identity: "fixture"}}}
	for i, e := range r.Events {
		e.ID, e.Time = int64(i+2), r.At.Add(time.Duration(i+1)*time.Second)
		events = append(events, e)
	}
	data, err := json.Marshal(engine.Batch{Kind: engine.BatchExternal, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	h := engine.BatchHeader{RunID: runID, WorkflowID: r.ID, TaskQueue: r.Queue, Kind: engine.BatchExternal,
		FirstEventID: 1, LastEventID: int64(len(events))}
	h.Closed = r.Closed
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := store.AppendHistory(ctx, h, data, 0, ""); err != nil {
		t.Fatalf("indextest: writing %s: %v", r.ID, err)
	}
	return runID
}
