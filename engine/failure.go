package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/foremanhq/foreman/internal/backoff"
)

// Failure is an error as stored in history: a type to match retry policies
// and operator searches on, a message, and whether retrying can help.
type Failure struct {
	Type         string `json:"type"`
	Message      string `json:"message"`
	NonRetryable bool   `json:"non_retryable,omitempty"`
	// TimeoutType is set for timeouts: schedule_to_start, start_to_close,
	// schedule_to_close, heartbeat.
	TimeoutType string `json:"timeout_type,omitempty"`
	// Details, when set, is a JSON value the error carried.
	Details []byte `json:"details,omitempty"`
}

// Failure types the engine records for an activity execution that ended
// without an outcome of its own. Both are retried per the retry policy,
// as a new attempt; list them in NonRetryableErrorTypes to fail instead.
const (
	// FailureWorkerLost: the attempt's task came back to the queue because
	// the worker it was delivered to stopped extending its lease (it died,
	// hung or lost the server).
	FailureWorkerLost = "WorkerLost"
	// FailureWorkerStopped: the worker running the attempt was stopped
	// (a deploy); the next attempt reads the newest heartbeat details.
	FailureWorkerStopped = "WorkerStopped"
)

func (f *Failure) Error() string {
	if f.TimeoutType != "" {
		return fmt.Sprintf("%s timeout: %s", f.TimeoutType, f.Message)
	}
	return fmt.Sprintf("%s: %s", f.Type, f.Message)
}

// ApplicationError is an error with a type name that retry policies and
// operators match on. Return one from an activity or workflow to choose the
// type, or to say that retrying cannot help.
type ApplicationError struct {
	Type         string
	Message      string
	NonRetryable bool
	Cause        error
}

// NewApplicationError returns an error of the given type.
func NewApplicationError(typ, message string, nonRetryable bool) *ApplicationError {
	return &ApplicationError{Type: typ, Message: message, NonRetryable: nonRetryable}
}

func (e *ApplicationError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

func (e *ApplicationError) Unwrap() error { return e.Cause }

// ActivityError is what a workflow sees when an activity failed for good.
type ActivityError struct {
	ActivityType string
	Attempt      int
	Failure      *Failure
}

func (e *ActivityError) Error() string {
	return fmt.Sprintf("activity %s failed after %d attempt(s): %s", e.ActivityType, e.Attempt, e.Failure.Error())
}

// Unwrap exposes the failure as an *ApplicationError so errors.As works the
// same for workflow code and activity code.
func (e *ActivityError) Unwrap() error {
	if e.Failure.TimeoutType != "" {
		return &TimeoutError{Type: e.Failure.TimeoutType}
	}
	return &ApplicationError{Type: e.Failure.Type, Message: e.Failure.Message, NonRetryable: e.Failure.NonRetryable}
}

// TimeoutError reports which timeout fired.
type TimeoutError struct{ Type string }

func (e *TimeoutError) Error() string { return e.Type + " timeout" }

// ErrCanceled is returned by blocking calls whose context was cancelled.
var ErrCanceled = errors.New("canceled")

// ErrApprovalTimedOut is returned by AwaitApproval when nobody decided in time.
var ErrApprovalTimedOut = errors.New("approval timed out")

// FailureFrom converts any error into its stored form.
func FailureFrom(err error) *Failure {
	if err == nil {
		return nil
	}
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	var app *ApplicationError
	if errors.As(err, &app) {
		return &Failure{Type: app.Type, Message: app.Message, NonRetryable: app.NonRetryable}
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		return &Failure{Type: "TimeoutError", Message: err.Error(), TimeoutType: te.Type}
	}
	if errors.Is(err, ErrCanceled) {
		return &Failure{Type: "CanceledError", Message: err.Error()}
	}
	return &Failure{Type: fmt.Sprintf("%T", err), Message: err.Error()}
}

// Codes of the engine's own errors, stable so operators can search for them.
const (
	CodeNonDeterminism   = "FM1001"
	CodeWorkflowPanic    = "FM1002"
	CodeUnknownWorkflow  = "FM1003"
	CodeHistoryTooLarge  = "FM1004"
	CodePayloadTooLarge  = "FM1005"
	CodeBadHistory       = "FM1006"
	CodeUnknownActivity  = "FM1101"
	CodeActivityPanic    = "FM1102"
	CodeBadActivityInput = "FM1103"
)

// NonDeterminismError says how replayed code differs from its history.
type NonDeterminismError struct {
	EventID  int64
	Expected string // what history recorded
	Got      string // what the code did
}

func (e *NonDeterminismError) Error() string {
	return fmt.Sprintf("[%s] non-determinism at event %d: history recorded %s but the workflow code now %s; "+
		"the code changed under a running execution: guard the change with engine.GetVersion, or reset the run",
		CodeNonDeterminism, e.EventID, e.Expected, e.Got)
}

// RetryPolicy says how failed activity attempts are retried.
type RetryPolicy struct {
	InitialInterval    time.Duration `json:"initial_interval,omitempty"`
	BackoffCoefficient float64       `json:"backoff_coefficient,omitempty"`
	MaximumInterval    time.Duration `json:"maximum_interval,omitempty"`
	// MaximumAttempts 0 means unlimited; 1 means no retry.
	MaximumAttempts        int      `json:"maximum_attempts,omitempty"`
	NonRetryableErrorTypes []string `json:"non_retryable_error_types,omitempty"`
	// PauseOnExhaustion: when MaximumAttempts ran out, the run is paused
	// as a dead letter (waiting for an operator's activity retry, reset or
	// unpause) instead of the activity failing. WorkerOptions'
	// PauseOnRetriesExhausted sets it for a whole queue.
	PauseOnExhaustion bool `json:"pause_on_exhaustion,omitempty"`
}

// DefaultRetryPolicy is used when ActivityOptions has none: 1 s, doubling,
// at most 100 s apart, forever (bounded by ScheduleToClose).
var DefaultRetryPolicy = RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 100 * time.Second}

func (p *RetryPolicy) normalized() RetryPolicy {
	if p == nil {
		return DefaultRetryPolicy
	}
	r := *p
	if r.InitialInterval <= 0 {
		r.InitialInterval = DefaultRetryPolicy.InitialInterval
	}
	if r.BackoffCoefficient < 1 {
		r.BackoffCoefficient = DefaultRetryPolicy.BackoffCoefficient
	}
	if r.MaximumInterval <= 0 {
		r.MaximumInterval = 100 * r.InitialInterval
	}
	return r
}

// backoff returns the wait before attempt+1, after attempt failed.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	return backoff.Policy{Initial: p.InitialInterval, Factor: p.BackoffCoefficient, Max: p.MaximumInterval}.Delay(attempt)
}

// retryable tells whether a failure of the given attempt may be retried.
func (p RetryPolicy) retryable(f *Failure, attempt int) bool {
	if f.NonRetryable {
		return false
	}
	if p.MaximumAttempts > 0 && attempt >= p.MaximumAttempts {
		return false
	}
	for _, t := range p.NonRetryableErrorTypes {
		if t == f.Type {
			return false
		}
	}
	return true
}

// ActivityOptions configure one activity call.
type ActivityOptions struct {
	// TaskQueue defaults to the workflow's.
	TaskQueue              string        `json:"task_queue,omitempty"`
	ScheduleToStartTimeout time.Duration `json:"schedule_to_start_timeout,omitempty"`
	StartToCloseTimeout    time.Duration `json:"start_to_close_timeout,omitempty"`
	ScheduleToCloseTimeout time.Duration `json:"schedule_to_close_timeout,omitempty"`
	HeartbeatTimeout       time.Duration `json:"heartbeat_timeout,omitempty"`
	RetryPolicy            *RetryPolicy  `json:"retry_policy,omitempty"`
}

// DefaultStartToCloseTimeout applies when neither StartToClose nor
// ScheduleToClose is set.
const DefaultStartToCloseTimeout = 10 * time.Minute

// SearchAttribute is a typed custom search attribute value.
type SearchAttribute struct {
	Type  SearchAttributeType `json:"type"`
	Value any                 `json:"value"`
}

// SearchAttributeType is the type of a custom search attribute.
type SearchAttributeType string

const (
	AttrKeyword SearchAttributeType = "keyword"
	AttrText    SearchAttributeType = "text"
	AttrInt     SearchAttributeType = "int"
	AttrFloat   SearchAttributeType = "float"
	AttrBool    SearchAttributeType = "bool"
	AttrTime    SearchAttributeType = "time"
)

// Keyword, Text, Int, Float, Bool and Time build typed search attributes.
func Keyword(v string) SearchAttribute { return SearchAttribute{AttrKeyword, v} }
func Text(v string) SearchAttribute    { return SearchAttribute{AttrText, v} }
func Int(v int64) SearchAttribute      { return SearchAttribute{AttrInt, v} }
func Float(v float64) SearchAttribute  { return SearchAttribute{AttrFloat, v} }
func Bool(v bool) SearchAttribute      { return SearchAttribute{AttrBool, v} }
func Time(v time.Time) SearchAttribute { return SearchAttribute{AttrTime, v.UTC()} }
