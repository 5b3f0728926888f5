package tui

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/foremanhq/foreman/engine"
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
	Actor
	ViewStore
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

// Actor changes runs. Every call is recorded in the run's history with the
// operator identity the adapter was built with. The console only calls these
// from its one dispatch point (actions.go), which refuses them in read-only
// mode.
type Actor interface {
	Signal(ctx context.Context, workflowID, runID, name string, payload json.RawMessage) error
	// Decide approves or rejects the pending approval called approval.
	Decide(ctx context.Context, workflowID, runID, approval string, approved bool, comment string) error
	Cancel(ctx context.Context, workflowID, runID, reason string) error
	Terminate(ctx context.Context, workflowID, runID, reason string) error
	// Reset starts a new run from the history up to `to`: an event id, "first"
	// or "last-good" (just before the first failure). With dryRun nothing
	// changes and the preview says what would be kept and dropped.
	Reset(ctx context.Context, workflowID, runID, to string, reapplySignals bool, reason string, dryRun bool) (ResetPreview, error)
	// Compensate runs the run's registered compensations, newest first.
	Compensate(ctx context.Context, workflowID, runID, reason string) error
}

// ViewStore keeps named searches that a team shares.
type ViewStore interface {
	Views(ctx context.Context) ([]SavedView, error)
	SaveView(ctx context.Context, name, query string) error
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
var ErrReadOnly = errors.New("read-only mode: writes are disabled")
