package main

import (
	"context"
	"encoding/json"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/tui"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// backend is what the console (tui) runs on: the engine client, the search
// API, the saved views, and the CLI's own operator actions and batch
// journal, as the tui.Backend interface. Under --read-only the actions are
// behind operator.ReadOnly (and the console puts it in front again).
type backend struct {
	operator.Actions
	app   *app
	c     *engine.Client
	s     searcher
	store *jetstream.Store
	views *jetstream.Views
}

var _ tui.Backend = (*backend)(nil)

func (a *app) backend(ctx context.Context) (*backend, error) {
	c, err := a.engine(ctx)
	if err != nil {
		return nil, err
	}
	s, err := a.searcher(ctx)
	if err != nil {
		return nil, err
	}
	v, err := a.savedViews(ctx)
	if err != nil {
		return nil, err
	}
	return &backend{Actions: a.actions, app: a, c: c, s: s, store: a.node.Store, views: v}, nil
}

// Journal is the CLI's batch journal. A console batch over matches is
// recorded as the CLI records one (action, query, arguments, identity), so
// foreman VERB -q QUERY --batch-id ID can finish it should the console die.
func (b *backend) Journal(ctx context.Context) (operator.Journal, error) {
	return b.app.journal(ctx)
}

func (b *backend) Search(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error) {
	return guarded(b, ctx, func(c context.Context) (searchapi.SearchResult, error) { return b.s.Search(c, req) })
}

func (b *backend) Count(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error) {
	return guarded(b, ctx, func(c context.Context) (searchapi.CountResult, error) { return b.s.Count(c, req) })
}

func (b *backend) Lag(ctx context.Context) (searchapi.Lag, error) {
	return guarded(b, ctx, b.s.Lag)
}

// Updates turns the index's update notices into a coalescing signal.
func (b *backend) Updates(ctx context.Context) <-chan struct{} {
	ch, err := searchapi.NewClient(b.store).Updates(ctx)
	if err != nil {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	return ch
}

func (b *backend) Describe(ctx context.Context, workflowID, runID string) (*engine.Execution, error) {
	return guarded(b, ctx, func(c context.Context) (*engine.Execution, error) { return b.c.Describe(c, workflowID, runID) })
}

func (b *backend) History(ctx context.Context, workflowID, runID string) ([]engine.Event, error) {
	return guarded(b, ctx, func(c context.Context) ([]engine.Event, error) { return b.c.History(c, workflowID, runID) })
}

func (b *backend) Query(ctx context.Context, workflowID, runID, name string, args json.RawMessage) (json.RawMessage, error) {
	var a any
	if len(args) > 0 {
		a = args
	}
	return guarded(b, ctx, func(c context.Context) (json.RawMessage, error) { return b.c.Query(c, workflowID, runID, name, a) })
}

func (b *backend) CompensationPlan(ctx context.Context, workflowID, runID string) ([]tui.CompensationStep, error) {
	return guarded(b, ctx, func(c context.Context) ([]tui.CompensationStep, error) {
		return b.compensationPlan(c, workflowID, runID)
	})
}

func (b *backend) compensationPlan(ctx context.Context, workflowID, runID string) ([]tui.CompensationStep, error) {
	events, err := b.c.History(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	p, err := compensations.PlanOf(ctx, b.c, workflowID, engine.Summarize(events).RunID)
	if err != nil {
		return nil, err
	}
	// the plan names steps by command seq; the console shows event ids
	eventOf := map[int64]int64{}
	for _, e := range events {
		if m, ok := e.Attrs.(*engine.MarkerRecorded); ok && m.Kind == engine.MarkerCompensation {
			eventOf[m.Seq] = e.ID
		}
	}
	out := make([]tui.CompensationStep, len(p.Steps))
	for i, s := range p.Steps {
		state := string(s.Status)
		if s.Status == compensations.StepOK {
			state = "completed"
		}
		out[i] = tui.CompensationStep{EventID: eventOf[s.Seq], Activity: s.Activity, Input: s.Input, State: state}
	}
	return out, nil
}

func (b *backend) Views(ctx context.Context) ([]tui.SavedView, error) {
	vs, err := guarded(b, ctx, b.views.List)
	if err != nil {
		return nil, err
	}
	out := make([]tui.SavedView, len(vs))
	for i, v := range vs {
		out[i] = tui.SavedView{Name: v.Name, Query: v.Query}
	}
	return out, nil
}

// Audit reads the whole audit trail (tui.AuditReader, the :audit view).
func (b *backend) Audit(ctx context.Context) ([]audit.Record, error) {
	var recs []audit.Record
	err := b.store.ReadAudit(ctx, false, func(r audit.Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}
