package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

// workflowTask asks a worker to advance a run. It carries at most one
// inbound fact (an activity outcome, a fired timer) that the worker checks
// against the run's state and turns into history events, or drops when
// stale (a result for a cancelled activity or an older attempt, a timer that
// already fired): duplicate deliveries are harmless by construction.
type workflowTask struct {
	RunID      string   `json:"run_id"`
	WorkflowID string   `json:"workflow_id"`
	HistorySeq uint64   `json:"history_seq,omitempty"` // history holds at least this batch
	Inbound    *inbound `json:"inbound,omitempty"`
	// First carries the run's first history batch (at HistorySeq) in the
	// task that wakes a new run, so the worker starts it without a read.
	First json.RawMessage `json:"first,omitempty"`
	// Trace is the traceparent of the batch that woke the run (tracing.go).
	Trace string `json:"trace,omitempty"`
}

type inboundKind string

const (
	inboundActivityResult  inboundKind = "activity_result"
	inboundTimerFired      inboundKind = "timer_fired"
	inboundApprovalTimeout inboundKind = "approval_timeout"
	inboundRetryDue        inboundKind = "retry_due"
	inboundActivityTimeout inboundKind = "activity_timeout"
	// inboundUpdate never travels as a task: a worker builds it for an
	// update request (worker_update.go).
	inboundUpdate inboundKind = "update"
)

type inbound struct {
	Kind    inboundKind     `json:"kind"`
	Seq     int64           `json:"seq"`
	Attempt int             `json:"attempt,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Failure *Failure        `json:"failure,omitempty"` // nil: the attempt succeeded
	FireAt  time.Time       `json:"fire_at,omitzero"`
	// Child workflows and external signals (worker_child.go): the run
	// concerned, the child's key (its first run id) and how it closed.
	RunID  string `json:"run_id,omitempty"`
	Key    string `json:"key,omitempty"`
	Status Status `json:"status,omitempty"`
	// Update is the request of an inboundUpdate; verdict is how the worker
	// judged it (worker_update.go).
	Update  *updateRequest `json:"update,omitempty"`
	verdict *updateVerdict
}

// activityTask asks a worker to run one attempt of an activity.
type activityTask struct {
	RunID         string          `json:"run_id"`
	WorkflowID    string          `json:"workflow_id"`
	WorkflowQueue string          `json:"workflow_queue"`
	Seq           int64           `json:"seq"`
	ActivityType  string          `json:"activity_type"`
	Input         json.RawMessage `json:"input,omitempty"`
	Options       ActivityOptions `json:"options"`
	Attempt       int             `json:"attempt"`
	ScheduledAt   time.Time       `json:"scheduled_at"`
	DispatchedAt  time.Time       `json:"dispatched_at"`
	// Eager, when set, is the token of the worker instance that runs this
	// attempt itself (worker_eager.go): the task only guards it.
	Eager string `json:"eager,omitempty"`
	// Trace is the traceparent of the workflow task that scheduled the
	// attempt: the attempt's span is its child (tracing.go).
	Trace string `json:"trace,omitempty"`
}

// Message ids: stable across redeliveries so the store deduplicates retries.
func wakeMsgID(runID string, seq uint64) string { return fmt.Sprintf("w-%s-%d", runID, seq) }
func activityMsgID(runID string, seq int64, attempt int) string {
	return fmt.Sprintf("a-%s-%d-%d", runID, seq, attempt)
}
func resultMsgID(runID string, seq int64, attempt int) string {
	return fmt.Sprintf("r-%s-%d-%d", runID, seq, attempt)
}

// Timer keys (one durable timer per key).
func timerKey(runID, kind string, seq int64) string { return fmt.Sprintf("%s.%s.%d", runID, kind, seq) }

// heartbeatKey names the heartbeat record of an activity (all attempts).
func heartbeatKey(runID string, seq int64) string { return fmt.Sprintf("%s.%d", runID, seq) }

// heartbeatRecord is what an attempt writes when it starts (if it has a
// heartbeat timeout) and on each heartbeat.
type heartbeatRecord struct {
	RunID         string          `json:"run_id"`
	WorkflowID    string          `json:"workflow_id"`
	WorkflowQueue string          `json:"workflow_queue"`
	Seq           int64           `json:"seq"`
	Attempt       int             `json:"attempt"`
	At            time.Time       `json:"at"`
	Timeout       time.Duration   `json:"timeout"`
	Details       json.RawMessage `json:"details,omitempty"`
}

// storedTimerBody is what the engine publishes when a durable timer fires.
type storedTimerBody struct {
	Kind  TaskKind        `json:"kind"`
	Queue string          `json:"queue"`
	MsgID string          `json:"msg_id"`
	Task  json.RawMessage `json:"task"`
}
