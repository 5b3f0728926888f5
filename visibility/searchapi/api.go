// Package searchapi is the search API of foreman-engine as its callers see
// it: the requests and results, the wire envelope, the error type and the
// client. The engine serves it over NATS (package visibility, which holds
// the bleve index); the foreman CLI and console call it through Client.
//
// It imports neither bleve nor visibility on purpose: the console talks to
// the engine through the client API only (DESIGN.md §2), and linking the
// index would put bleve and scorch into bin/foreman. Field names are stable
// lower snake case (DESIGN.md §6).
package searchapi

import (
	"encoding/json"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Subjects of the search API (request/reply, JSON bodies).
const (
	SubjectSearch  = "fm.api.vis.search"
	SubjectCount   = "fm.api.vis.count"
	SubjectLag     = "fm.api.vis.lag"
	SubjectGet     = "fm.api.vis.get"
	SubjectUpdates = "fm.vis.updates" // published (no reply) after each applied index batch
)

// SearchRequest asks for one page of runs matching Query.
type SearchRequest struct {
	// Query in either dialect: the bleve query string
	// (`status:running type:Order "card declined"`) or the Temporal list
	// filter (`WorkflowType = 'Order' AND ExecutionStatus = 'Running'`).
	// Empty matches every run.
	Query string `json:"query"`
	// Sort lists field names, "-" first for descending; default
	// ["-start_time", "run_id"]. A unique tie-breaker is always appended.
	Sort []string `json:"sort,omitempty"`
	// Size of the page; default 50, at most 1000.
	Size int `json:"size,omitempty"`
	// After is the cursor of the previous page (SearchResult.Next).
	After []string `json:"after,omitempty"`
	// WaitForSeq makes the search wait until the index has applied history
	// up to this stream position (read-your-writes after an action).
	WaitForSeq uint64 `json:"wait_for_seq,omitempty"`
	// Facets asks for the top values of these keyword fields over all matches.
	Facets []string `json:"facets,omitempty"`
	// ExactTotal counts every match even when that means visiting them all
	// (see SearchResult.TotalCapped).
	ExactTotal bool `json:"exact_total,omitempty"`
}

// SearchResult is one page of matches.
type SearchResult struct {
	Total uint64 `json:"total"`
	// TotalCapped says Total is a lower bound: the query cannot be counted
	// from the index directly (a phrase, a negation, a wildcard over text)
	// and counting stopped at visibility.CountLimit matches. Count, or ExactTotal,
	// counts them all.
	TotalCapped bool               `json:"total_capped,omitempty"`
	Hits        []Doc              `json:"hits"`
	Next        []string           `json:"next,omitempty"` // cursor of the next page; empty on the last page
	Facets      map[string][]Group `json:"facets,omitempty"`
	TookMS      float64            `json:"took_ms"`
}

// CountRequest counts runs matching Query, optionally grouped by a keyword field.
type CountRequest struct {
	Query      string `json:"query"`
	GroupBy    string `json:"group_by,omitempty"`
	WaitForSeq uint64 `json:"wait_for_seq,omitempty"`
}

// CountResult is the count, and the groups (largest first) when asked.
type CountResult struct {
	Total  uint64  `json:"total"`
	Groups []Group `json:"groups,omitempty"`
}

// Group is one value of a grouped count or facet.
type Group struct {
	Value string `json:"value"`
	Count uint64 `json:"count"`
}

// GetRequest fetches the documents of runs by run id (or the current run
// of workflow ids) without a query.
type GetRequest struct {
	RunIDs      []string `json:"run_ids,omitempty"`
	WorkflowIDs []string `json:"workflow_ids,omitempty"`
}

// GetResult holds the documents found, in request order (run ids first),
// and the ids the index does not hold.
type GetResult struct {
	Docs    []Doc    `json:"docs"`
	Missing []string `json:"missing,omitempty"`
}

// Lag says how far the index is behind history.
type Lag struct {
	AppliedSeq uint64  `json:"applied_seq"` // last history stream position applied
	HistorySeq uint64  `json:"history_seq"` // last history stream position
	Behind     uint64  `json:"behind"`      // history batches not yet applied
	LagMS      float64 `json:"lag_ms"`      // age of the oldest unapplied batch, 0 when caught up
	Docs       uint64  `json:"docs"`
}

// APIError is the body of a failed request. Code is "bad_query" (Pos is
// the byte offset of the offending token, Expected what would have been
// valid there), "bad_request", "timeout" or "internal".
type APIError struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Pos      int    `json:"pos,omitempty"`
	Expected string `json:"expected,omitempty"`
}

func (e *APIError) Error() string { return e.Message }

// API error codes (APIError.Code).
const (
	CodeBadQuery   = "bad_query"
	CodeBadRequest = "bad_request"
	CodeTimeout    = "timeout"
	CodeInternal   = "internal"
)

// ErrorBody is the wire envelope of a refused request: the answer is either
// the JSON of the result or {"error": APIError}.
type ErrorBody struct {
	Error *APIError `json:"error"`
}

// Doc is the indexed summary of one run: what lists and the console show.
// Text fields (input, result, failure, signals, history text) are indexed
// but not all returned; Doc carries what a list row and a summary need.
type Doc struct {
	WorkflowID string        `json:"workflow_id"`
	RunID      string        `json:"run_id"`
	Type       string        `json:"type"`
	TaskQueue  string        `json:"task_queue"`
	Status     engine.Status `json:"status"`
	// ExecutionStatus is Temporal's view: running, then how the run closed
	// (failed for a failed saga whose Status is compensated).
	ExecutionStatus engine.Status    `json:"execution_status"`
	StartTime       time.Time        `json:"start_time"`
	CloseTime       time.Time        `json:"close_time,omitzero"`
	DurationMS      int64            `json:"duration_ms"` // close - start, or now - start while running (at index time)
	HistoryLength   int64            `json:"history_length"`
	StatusLine      string           `json:"status_line,omitempty"`
	Progress        *engine.Progress `json:"progress,omitempty"`
	// WaitingOn is what a running run waits on: approval, signal, timer,
	// activity, retry (an activity between failed attempts), task_failure
	// (workflow task failing), or "" when closed.
	WaitingOn         string                   `json:"waiting_on,omitempty"`
	PendingApprovals  []engine.PendingApproval `json:"pending_approvals,omitempty"`
	PendingActivities []engine.PendingActivity `json:"pending_activities,omitempty"`
	Attempts          int                      `json:"attempts,omitempty"` // highest attempt of a pending activity
	LastFailure       *engine.Failure          `json:"last_failure,omitempty"`
	// LastEventTime is when history last grew (stuck detection: no progress since).
	LastEventTime    time.Time                         `json:"last_event_time"`
	SearchAttributes map[string]engine.SearchAttribute `json:"search_attributes,omitempty"`
	Input            json.RawMessage                   `json:"input,omitempty"`
	Result           json.RawMessage                   `json:"result,omitempty"`
	// Imported marks a read-only copy made by `foreman import`.
	Imported bool `json:"imported,omitempty"`
	// Paused says who paused the run, when and why (a dead letter: which
	// activity ran out of attempts, with what error); nil when not paused.
	Paused *engine.PauseInfo `json:"paused,omitempty"`
}
