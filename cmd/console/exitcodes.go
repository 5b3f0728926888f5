package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility"
)

// Exit codes: scripts branch on these, so they never change meaning.
const (
	exitOK       = 0
	exitFailure  = 1 // anything else: the engine is unreachable, a batch item failed, …
	exitUsage    = 2 // bad flags or arguments, malformed JSON or query, unknown reset point
	exitNotFound = 3 // no such workflow, run, query handler, view or batch
	exitRefused  = 4 // read-only, not an approver, closed run, no such approval, already started, not confirmed
	exitTimeout  = 5 // --timeout elapsed, or no worker answered a query in time
)

// usageError is a mistake in how the command was invoked.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errRefused wraps refusals the CLI itself makes (read-only, no --yes).
var errRefused = errors.New("refused")

func refusedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errRefused, fmt.Sprintf(format, args...))
}

// exitCode maps an error to the documented exit code. Engine sentinels are
// matched with errors.Is, so wrapping anywhere keeps the code right.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var usage *usageError
	var api *visibility.APIError
	var app *engine.ApplicationError
	switch {
	case errors.As(err, &usage),
		errors.Is(err, engine.ErrBadResetPoint),
		errors.Is(err, jetstream.ErrBatchMismatch),
		errors.Is(err, jetstream.ErrInvalidName),
		errors.Is(err, engine.ErrInvalidArgument):
		return exitUsage
	case errors.As(err, &api):
		switch api.Code {
		case "bad_query", "bad_request":
			return exitUsage
		case "timeout":
			return exitTimeout
		}
		return exitFailure
	case errors.As(err, &app) && (app.Type == "BadPayload" || app.Type == engine.CodePayloadTooLarge):
		return exitUsage
	case errors.Is(err, errRefused),
		errors.Is(err, jetstream.ErrBatchRunning),
		errors.Is(err, compensations.ErrNothingToCompensate),
		errors.Is(err, engine.ErrRunClosed),
		errors.Is(err, engine.ErrNoSuchApproval),
		errors.Is(err, engine.ErrNotApprover),
		errors.Is(err, engine.ErrAlreadyStarted),
		errors.Is(err, engine.ErrHistoryLimit):
		return exitRefused
	case errors.Is(err, engine.ErrWorkflowNotFound),
		errors.Is(err, engine.ErrUnknownQuery),
		errors.Is(err, engine.ErrNotFound):
		return exitNotFound
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, engine.ErrNoResponders):
		return exitTimeout
	}
	return exitFailure
}

// definite tells whether err proves that a write did not take effect (the
// engine refused it before appending anything). Timeouts and connection
// errors do not: the append may have landed.
func definite(err error) bool {
	switch exitCode(err) {
	case exitUsage, exitNotFound, exitRefused:
		return true
	}
	return errors.Is(err, engine.ErrBusy)
}
