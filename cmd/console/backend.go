package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/tui"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// backend is what the console (tui) runs on: the engine client, the search
// API and the saved views, as the tui.Backend interface. The console
// refuses writes in read-only mode at its own dispatch point; the backend
// refuses them too, so no path can slip past.
type backend struct {
	c        *engine.Client
	s        searcher
	store    *jetstream.Store
	views    *jetstream.Views
	identity string
	readOnly bool
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
	return &backend{c: c, s: s, store: a.node.Store, views: v, identity: a.g.identity, readOnly: a.g.readOnly}, nil
}

func (b *backend) write() error {
	if b.readOnly {
		return tui.ErrReadOnly
	}
	return nil
}

func (b *backend) Search(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error) {
	return b.s.Search(ctx, req)
}

func (b *backend) Count(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error) {
	return b.s.Count(ctx, req)
}

func (b *backend) Lag(ctx context.Context) (searchapi.Lag, error) { return b.s.Lag(ctx) }

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
	return b.c.Describe(ctx, workflowID, runID)
}

func (b *backend) History(ctx context.Context, workflowID, runID string) ([]engine.Event, error) {
	return b.c.History(ctx, workflowID, runID)
}

func (b *backend) Query(ctx context.Context, workflowID, runID, name string, args json.RawMessage) (json.RawMessage, error) {
	var a any
	if len(args) > 0 {
		a = args
	}
	return b.c.Query(ctx, workflowID, runID, name, a)
}

func (b *backend) Signal(ctx context.Context, workflowID, runID, name string, payload json.RawMessage) error {
	if err := b.write(); err != nil {
		return err
	}
	var p any
	if len(payload) > 0 {
		p = payload
	}
	return b.c.Signal(ctx, workflowID, runID, name, p)
}

func (b *backend) Decide(ctx context.Context, workflowID, runID, approval string, approved bool, comment string) error {
	if err := b.write(); err != nil {
		return err
	}
	return b.c.Decide(ctx, workflowID, runID, approval, approved, comment)
}

func (b *backend) Cancel(ctx context.Context, workflowID, runID, reason string) error {
	if err := b.write(); err != nil {
		return err
	}
	return b.c.Cancel(ctx, workflowID, runID, reason)
}

func (b *backend) Terminate(ctx context.Context, workflowID, runID, reason string) error {
	if err := b.write(); err != nil {
		return err
	}
	return b.c.Terminate(ctx, workflowID, runID, reason)
}

func (b *backend) Reset(ctx context.Context, workflowID, runID, to string, reapplySignals bool, reason string, dryRun bool) (tui.ResetPreview, error) {
	if !dryRun {
		if err := b.write(); err != nil {
			return tui.ResetPreview{}, err
		}
	}
	res, err := b.c.Reset(ctx, workflowID, runID, engine.ResetOptions{To: to, ReapplySignals: reapplySignals, Reason: reason, DryRun: dryRun})
	if err != nil {
		return tui.ResetPreview{}, err
	}
	ids := func(events []engine.Event) []int64 {
		out := make([]int64, len(events))
		for i, e := range events {
			out[i] = e.ID
		}
		return out
	}
	return tui.ResetPreview{To: res.ResetEventID, Kept: ids(res.Kept), Dropped: ids(res.Dropped),
		Reapplied: ids(res.Reapplied), NewRunID: res.NewRunID}, nil
}

func (b *backend) CompensationPlan(ctx context.Context, workflowID, runID string) ([]tui.CompensationStep, error) {
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

func (b *backend) Compensate(ctx context.Context, workflowID, runID, reason string) error {
	if err := b.write(); err != nil {
		return err
	}
	_, err := compensations.Run(ctx, b.c, workflowID, runID, reason)
	return err
}

func (b *backend) Views(ctx context.Context) ([]tui.SavedView, error) {
	vs, err := b.views.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]tui.SavedView, len(vs))
	for i, v := range vs {
		out[i] = tui.SavedView{Name: v.Name, Query: v.Query}
	}
	return out, nil
}

func (b *backend) SaveView(ctx context.Context, name, query string) error {
	if err := b.write(); err != nil {
		return err
	}
	if err := b.views.Save(ctx, jetstream.View{Name: name, Query: query, SavedBy: b.identity}); err != nil {
		return fmt.Errorf("saving view: %w", err)
	}
	return nil
}
