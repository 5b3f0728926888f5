package engine

import "errors"

// Errors the client returns; match them with errors.Is.
var (
	// ErrWorkflowNotFound: no workflow with that id (or no such run).
	ErrWorkflowNotFound = errors.New("workflow not found")
	// ErrAlreadyStarted: a run with that workflow id is still open, or the
	// id-reuse policy forbids another run.
	ErrAlreadyStarted = errors.New("workflow already started")
	// ErrRunClosed: the run has closed; it accepts no signal, cancel,
	// decision or termination.
	ErrRunClosed = errors.New("run is closed")
	// ErrImportedRun: the run is a read-only copy imported from another
	// engine (Client.Import); it accepts no write and no worker runs it.
	ErrImportedRun = errors.New("run is an imported read-only copy")
	// ErrUnknownQuery: the workflow has no handler for that query.
	ErrUnknownQuery = errors.New("unknown query")
	// ErrNoSuchApproval: no pending approval by that name.
	ErrNoSuchApproval = errors.New("no such pending approval")
	// ErrNotApprover: the identity is not among the allowed approvers.
	ErrNotApprover = errors.New("not an allowed approver")
	// ErrBusy: the run's history kept changing under the write; retry.
	ErrBusy = errors.New("run is busy, try again")
	// ErrHistoryLimit: the run's history reached HistoryLimit events.
	ErrHistoryLimit = errors.New("history limit reached")
	// ErrInvalidArgument: a request names something that can never be
	// stored (a task queue name with a dot, an empty id, ...). Retrying
	// cannot help; stores wrap it in their own refusals of malformed names
	// so that the engine tells a permanent refusal from a transient one.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrPermissionDenied: the principal's role does not allow the action
	// (the engine checks it; a viewer changes nothing).
	ErrPermissionDenied = errors.New("permission denied")
)

// History size limits: past HistoryWarnEvents the worker logs a warning on
// every task; at HistoryLimit the run is terminated with code FM1004, and
// signals are refused. Replay time stays bounded by the limit.
const (
	HistoryWarnEvents = 10_000
	HistoryLimit      = 50_000
)
