package jetstream

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// Errors of this package beside the engine sentinels (engine.ErrConflict,
// engine.ErrNotFound, …), which every Store method returns wrapped.
var (
	// ErrInvalidName: a run id, queue name, timer or heartbeat key, workflow
	// id or message id cannot be used as given. The wrapping message names
	// the value and the rule it breaks.
	// It wraps engine.ErrInvalidArgument: the engine treats it as
	// permanent (quarantines, never retries).
	ErrInvalidName error = invalidName{}
	// ErrServerTooOld: the NATS server lacks a feature the store needs.
	ErrServerTooOld = errors.New("nats server too old")
)

// API error codes of nats-server that the store maps to engine sentinels.
const (
	codeWrongLastSequence         = natsjs.JSErrCodeStreamWrongLastSequence         // 10071
	codeWrongLastSequenceConstant = natsjs.JSErrCodeStreamWrongLastSequenceConstant // 10164, R>1 streams
	codeMessageExceedsMaximum     = natsjs.JSErrCodeStreamMessageExceedsMaximum     // 10054
	codeSequenceNotFound          = 10043                                           // JSSequenceNotFoundErrF
	codeMsgDeleteFailed           = 10057                                           // JSStreamMsgDeleteFailedF
)

// apiErrorCode returns the JetStream API error code inside err, or 0.
func apiErrorCode(err error) natsjs.ErrorCode {
	var apiErr *natsjs.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// isWrongLastSequence reports whether err is an optimistic-concurrency
// failure of a publish.
func isWrongLastSequence(err error) bool {
	c := apiErrorCode(err)
	return c == codeWrongLastSequence || c == codeWrongLastSequenceConstant
}

// isTooLarge reports whether err says a message exceeds a size limit, either
// the connection's max payload (client side) or the stream's MaxMsgSize.
func isTooLarge(err error) bool {
	return errors.Is(err, nats.ErrMaxPayload) || apiErrorCode(err) == codeMessageExceedsMaximum
}

// mapPublishError translates a publish error into the engine's sentinels,
// keeping the original error in the chain.
func mapPublishError(err error) error {
	switch {
	case err == nil:
		return nil
	case isWrongLastSequence(err):
		return fmt.Errorf("%w: %w", engine.ErrConflict, err)
	case isTooLarge(err):
		return fmt.Errorf("%w: %w", engine.ErrTooLarge, err)
	}
	return err
}

// invalidName is ErrInvalidName: it reads "invalid name" and matches
// engine.ErrInvalidArgument too.
type invalidName struct{}

func (invalidName) Error() string        { return "invalid name" }
func (invalidName) Is(target error) bool { return target == engine.ErrInvalidArgument }
