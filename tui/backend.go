package tui

import (
	"context"
	"encoding/json"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Backend is everything the console needs from the engine, in domain terms.
// The foreman CLI implements it over engine.Client and searchapi.Client;
// the console never touches JetStream or bleve itself (DESIGN.md §2).
//
// Every method may block on the network: the console only calls them from
// tea.Cmds, each with a deadline, never from Update.
type Backend interface {
	Searcher
	Inspector
	// Actions performs every write, by its operator catalog entry; the
	// console wraps it with operator.ReadOnly in read-only mode.
	operator.Actions
	// Journal keeps the console's batches, as it keeps the CLI's
	// (jetstream.Batches): journaled, resumable, never acting twice on a run.
	Journal(ctx context.Context) (operator.Journal, error)
	ViewStore
	Health // health.go
}

// Searcher finds runs in the visibility index.
type Searcher interface {
	// Search returns one page of runs matching req.Query. A malformed query
	// fails with a *searchapi.APIError whose Pos and Expected point at the
	// offending token.
	Search(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error)
	// Count counts runs matching req.Query, grouped when req.GroupBy is set.
	Count(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error)
	// Lag says how far the index is behind history.
	Lag(ctx context.Context) (searchapi.Lag, error)
	// Updates delivers a value each time the index applied new history (many
	// may be coalesced into one), until ctx ends; the channel is then closed.
	Updates(ctx context.Context) <-chan struct{}
}

// Inspector reads one run. runID "" means the workflow's current run.
type Inspector interface {
	// History returns every event of the run; the console folds it with
	// engine.Summarize, so the overview and the timeline always agree.
	History(ctx context.Context, workflowID, runID string) ([]engine.Event, error)
	// Query runs a query handler, or a built-in (engine.QueryStack,
	// engine.QueryPending), on a worker and returns its JSON answer.
	Query(ctx context.Context, workflowID, runID, name string, args json.RawMessage) (json.RawMessage, error)
	// CompensationPlan lists the compensations Compensate would run, newest first.
	CompensationPlan(ctx context.Context, workflowID, runID string) ([]CompensationStep, error)
}

// ViewStore lists the named searches a team shares (saving one is the
// operator.ActViewSave action).
type ViewStore interface {
	Views(ctx context.Context) ([]SavedView, error)
}

// ResetPreview says what a reset keeps and drops.
type ResetPreview struct {
	// To is the event the new run's history ends with.
	To int64 `json:"to"`
	// Kept are the event ids copied into the new run.
	Kept []int64 `json:"kept"`
	// Dropped are the event ids the new run will not have.
	Dropped []int64 `json:"dropped"`
	// Reapplied are dropped signal events delivered again to the new run.
	Reapplied []int64 `json:"reapplied,omitempty"`
	// NewRunID is the run the reset started; empty on a dry run.
	NewRunID string `json:"new_run_id,omitempty"`
}

// CompensationStep is one compensation of a run's plan.
type CompensationStep struct {
	// EventID is the history event that registered the compensation.
	EventID int64 `json:"event_id"`
	// Activity is the activity type the step runs.
	Activity string          `json:"activity"`
	Input    json.RawMessage `json:"input,omitempty"`
	// State is pending, running, completed or failed.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// SavedView is a named query.
type SavedView struct {
	Name  string `json:"name"`
	Query string `json:"query"`
}

// ErrReadOnly is what every write returns when the console runs read-only.
var ErrReadOnly = operator.ErrReadOnly
