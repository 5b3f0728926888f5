package engine

import (
	"encoding/json"
	"time"
)

// Attributes of each event type. Seq fields name the command (in the order
// the workflow code issued them) an event belongs to.

// WorkflowStarted opens a run.
type WorkflowStarted struct {
	WorkflowID   string          `json:"workflow_id"`
	RunID        string          `json:"run_id"`
	WorkflowType string          `json:"workflow_type"`
	TaskQueue    string          `json:"task_queue"`
	Input        json.RawMessage `json:"input,omitempty"`
	Identity     string          `json:"identity,omitempty"`
	// OnBehalfOf is the self-declared identity (--identity) the principal
	// acted for: a comment, never who acted.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// ResetFrom names the run this one was reset from, if any.
	ResetFrom string `json:"reset_from,omitempty"`
	// ContinuedFrom names the run this one continues, if any.
	ContinuedFrom string `json:"continued_from,omitempty"`
	// Parent is set on a child run (ExecuteChildWorkflow).
	Parent *ParentRef `json:"parent,omitempty"`
	// SearchAttributes given at the start (StartOptions).
	SearchAttributes map[string]SearchAttribute `json:"search_attributes,omitempty"`
	// ScheduledBy names the schedule that started the run (or the run it
	// continues), ScheduledStartTime the fire's nominal time.
	ScheduledBy        string    `json:"scheduled_by,omitempty"`
	ScheduledStartTime time.Time `json:"scheduled_start_time,omitzero"`
}

// WorkflowTaskCompleted ends every batch a workflow task writes.
type WorkflowTaskCompleted struct {
	Identity string `json:"identity,omitempty"`
}

// WorkflowTaskFailed records that the workflow code could not make progress
// (panic, non-determinism, a limit). The task is retried with backoff.
type WorkflowTaskFailed struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Stack    string `json:"stack,omitempty"`
	Identity string `json:"identity,omitempty"`
	Attempt  int    `json:"attempt"`
}

// ActivityScheduled asks for an activity to run.
type ActivityScheduled struct {
	Seq          int64           `json:"seq"`
	ActivityType string          `json:"activity_type"`
	TaskQueue    string          `json:"task_queue"`
	Input        json.RawMessage `json:"input,omitempty"`
	Options      ActivityOptions `json:"options"`
	// Writer attests who scheduled an activity on another queue than its
	// run's (cmdauth.go); nil on the run's own queue.
	Writer *CommandWriter `json:"writer,omitempty"`
}

// ActivityAttemptFailed records a failed attempt that will be retried.
type ActivityAttemptFailed struct {
	Seq         int64     `json:"seq"`
	Attempt     int       `json:"attempt"`
	Failure     *Failure  `json:"failure"`
	NextAttempt time.Time `json:"next_attempt"`
	// ScheduleToStart is the activity's schedule-to-start timeout, so the
	// dispatcher arms it for the next attempt without reading history.
	ScheduleToStart time.Duration `json:"schedule_to_start,omitempty"`
	// DeadLetter: the attempts ran out under a pause-on-exhaustion policy:
	// no retry is due (NextAttempt is zero) and the run is paused until an
	// operator retries, resets or completes the activity, or unpauses.
	DeadLetter bool `json:"dead_letter,omitempty"`
}

// ActivityCompleted carries an activity's result.
type ActivityCompleted struct {
	Seq     int64           `json:"seq"`
	Attempt int             `json:"attempt"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// ActivityFailed is the activity's final failure (retries exhausted, a
// non-retryable error, or a timeout that allows no retry).
type ActivityFailed struct {
	Seq     int64    `json:"seq"`
	Attempt int      `json:"attempt"`
	Failure *Failure `json:"failure"`
}

// ActivityCancelRequested records that the workflow gave up on an activity;
// the running attempt's context is cancelled and its late result dropped.
type ActivityCancelRequested struct {
	Seq int64 `json:"seq"`
}

// TimerStarted starts a durable timer.
type TimerStarted struct {
	Seq      int64         `json:"seq"`
	Duration time.Duration `json:"duration"`
	FireAt   time.Time     `json:"fire_at"`
}

// TimerFired records that a timer fell due.
type TimerFired struct {
	Seq int64 `json:"seq"`
}

// TimerCanceled records that the workflow cancelled a timer.
type TimerCanceled struct {
	Seq int64 `json:"seq"`
}

// SignalReceived delivers a named signal.
type SignalReceived struct {
	Name     string          `json:"name"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	Identity string          `json:"identity,omitempty"`
	// OnBehalfOf is the self-declared identity (--identity) the principal
	// acted for: a comment, never who acted.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// Sig is the engine's signature (see opauth.go): readers ignore an
	// operator event without a valid one once a signing key is published.
	Sig string `json:"sig,omitempty"`
	// RequestID is set on a signal sent by workflow code
	// (SignalExternalWorkflow): a redelivered send finds it and adds none.
	RequestID string `json:"request_id,omitempty"`
}

// Marker kinds the engine itself records; RecordMarker refuses them.
const (
	MarkerSideEffect = "side_effect"
	MarkerVersion    = "version"
)

// Marker kinds the compensations package records (the engine knows them so
// that Summarize can tell a compensated run).
const (
	MarkerCompensation     = "compensation"      // a compensation registered after a forward step
	MarkerCompensationDone = "compensation_done" // ID: the seq of the compensation that ran (Value: "ok", "failed", "skipped")
	MarkerCompensated      = "compensated"       // every compensation ran successfully
)

// MarkerRecorded stores a value the code must see again on replay
// (SideEffect, NewUUID, GetVersion).
type MarkerRecorded struct {
	Seq   int64           `json:"seq"`
	Kind  string          `json:"kind"`
	ID    string          `json:"id,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// ApprovalRequested opens a human approval.
type ApprovalRequested struct {
	Seq         int64         `json:"seq"`
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Approvers   []string      `json:"approvers,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	// FourEyes: the run's starter may not decide. NotByField: nor the
	// principal named by this top-level field of the run's input.
	FourEyes   bool   `json:"four_eyes,omitempty"`
	NotByField string `json:"not_by_field,omitempty"`
}

// ApprovalDecided records an operator's decision.
type ApprovalDecided struct {
	Seq      int64  `json:"seq"`
	Name     string `json:"name"`
	Approved bool   `json:"approved"`
	By       string `json:"by"`
	Comment  string `json:"comment,omitempty"`
	// OnBehalfOf is the self-declared identity (--identity) the principal
	// acted for: a comment, never who acted.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// Sig is the engine's signature (see opauth.go): readers ignore an
	// operator event without a valid one once a signing key is published.
	Sig string `json:"sig,omitempty"`
}

// ApprovalTimedOut records that nobody decided in time.
type ApprovalTimedOut struct {
	Seq  int64  `json:"seq"`
	Name string `json:"name"`
}

// StatusSet is the user-facing status line.
type StatusSet struct {
	Seq  int64  `json:"seq"`
	Text string `json:"text"`
}

// ProgressSet is the user-facing progress.
type ProgressSet struct {
	Seq   int64 `json:"seq"`
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// SearchAttributesUpserted sets typed custom search attributes.
type SearchAttributesUpserted struct {
	Seq        int64                      `json:"seq"`
	Attributes map[string]SearchAttribute `json:"attributes"`
}

// WorkflowCancelRequested asks the workflow to cancel cooperatively.
type WorkflowCancelRequested struct {
	Reason   string `json:"reason,omitempty"`
	Identity string `json:"identity,omitempty"`
	// OnBehalfOf is the self-declared identity (--identity) the principal
	// acted for: a comment, never who acted.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// Sig is the engine's signature (see opauth.go): readers ignore an
	// operator event without a valid one once a signing key is published.
	Sig string `json:"sig,omitempty"`
}

// WorkflowCompleted closes a run with a result.
type WorkflowCompleted struct {
	Seq    int64           `json:"seq"`
	Result json.RawMessage `json:"result,omitempty"`
}

// WorkflowFailed closes a run with a failure.
type WorkflowFailed struct {
	Seq     int64    `json:"seq"`
	Failure *Failure `json:"failure"`
}

// WorkflowCanceled closes a run after a cancel request.
type WorkflowCanceled struct {
	Seq int64 `json:"seq"`
}

// WorkflowTerminated closes a run by operator force.
type WorkflowTerminated struct {
	Reason   string `json:"reason,omitempty"`
	Identity string `json:"identity,omitempty"`
	// OnBehalfOf is the self-declared identity (--identity) the principal
	// acted for: a comment, never who acted.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// Sig is the engine's signature (see opauth.go): readers ignore an
	// operator event without a valid one once a signing key is published.
	Sig string `json:"sig,omitempty"`
}

// WorkflowContinuedAsNew closes a run and names the run that continues it
// with a fresh history: same workflow id and type, new input, and the
// signals the closing run had received but not yet consumed.
type WorkflowContinuedAsNew struct {
	Seq          int64            `json:"seq"`
	NewRunID     string           `json:"new_run_id"`
	WorkflowType string           `json:"workflow_type"`
	Input        json.RawMessage  `json:"input,omitempty"`
	Signals      []SignalReceived `json:"signals,omitempty"`
	// Parent: a child's continuation stays the parent's child.
	Parent *ParentRef `json:"parent,omitempty"`
	// ScheduledBy and ScheduledStartTime carry the schedule that started
	// the chain over to the new run.
	ScheduledBy        string    `json:"scheduled_by,omitempty"`
	ScheduledStartTime time.Time `json:"scheduled_start_time,omitzero"`
}

// WorkflowReset closes a run (or marks an already closed one) because an
// operator reset it: a new run replays this one's history up to ToEventID
// and continues from there. The engine's dispatcher builds the new run from
// this event alone, so the reset survives any crash once this is recorded.
type WorkflowReset struct {
	NewRunID  string `json:"new_run_id"`
	ToEventID int64  `json:"to_event_id"`
	Reason    string `json:"reason,omitempty"`
	Identity  string `json:"identity,omitempty"`
	// OnBehalfOf is the self-declared identity (--identity) the principal
	// acted for: a comment, never who acted.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// Sig is the engine's signature (see opauth.go): readers ignore an
	// operator event without a valid one once a signing key is published.
	Sig string `json:"sig,omitempty"`
	// Signals received after ToEventID, re-delivered to the new run once.
	Signals []SignalReceived `json:"signals,omitempty"`
}

// ResetApplied follows the copied history in a run created by a reset: from
// here on the run is live again (pending work is dispatched anew).
type ResetApplied struct {
	FromRunID string `json:"from_run_id"`
	ToEventID int64  `json:"to_event_id"`
	Reason    string `json:"reason,omitempty"`
	Identity  string `json:"identity,omitempty"`
}

// RunCompensated records, on a closed run, that an operator-started
// compensation ran its whole plan successfully.
type RunCompensated struct {
	// Via is the workflow id of the compensation run that did the work.
	Via      string `json:"via"`
	Steps    int    `json:"steps"`
	Identity string `json:"identity,omitempty"`
	// OnBehalfOf is the self-declared identity (--identity) the principal
	// acted for: a comment, never who acted.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// Sig is the engine's signature (see opauth.go): readers ignore an
	// operator event without a valid one once a signing key is published.
	Sig string `json:"sig,omitempty"`
}

// RunImported follows the events of a run copied from another engine by
// `foreman import` (Client.Import): the run is a read-only copy for
// investigation, which no worker runs and every write refuses.
type RunImported struct {
	// Format is the export format the run was read from.
	Format string `json:"format"`
	// Source names where the export came from, as its writer said.
	Source     string    `json:"source,omitempty"`
	ExportedAt time.Time `json:"exported_at,omitzero"`
	Identity   string    `json:"identity,omitempty"`
}
