package main

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
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

// errRefused wraps refusals the CLI itself makes (no --yes, not confirmed);
// read-only refusals are operator.ErrReadOnly.
var errRefused = errors.New("refused")

func refusedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errRefused, fmt.Sprintf(format, args...))
}

// exitCode maps an error to the documented exit code: the CLI's own
// errors first, then what operator.Classify says of the engine's.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var usage *usageError
	var api *searchapi.APIError
	switch {
	case errors.As(err, &usage),
		errors.Is(err, jetstream.ErrBatchMismatch),
		errors.Is(err, jetstream.ErrInvalidName):
		return exitUsage
	case errors.As(err, &api):
		switch api.Code {
		case "bad_query", "bad_request":
			return exitUsage
		case "timeout":
			return exitTimeout
		}
		return exitFailure
	case errors.Is(err, errNoContext):
		return exitNotFound
	case errors.Is(err, errRefused),
		errors.Is(err, jetstream.ErrBatchRunning):
		return exitRefused
	case errors.Is(err, nats.ErrTimeout):
		return exitTimeout
	}
	switch operator.Classify(err) {
	case operator.KindInvalid:
		return exitUsage
	case operator.KindRefused:
		return exitRefused
	case operator.KindNotFound:
		return exitNotFound
	case operator.KindTimeout:
		return exitTimeout
	}
	return exitFailure
}
