package engine

import (
	"encoding/json"
	"time"
)

// The attributes of the events of child workflows and external signals
// (workflow_child.go, event_table_child.go).

// ParentRef is what a child run knows of the run that started it. It is
// part of the child's WorkflowStarted and carried, unchanged, by every run
// that continues the child (continue-as-new, reset, a retry), so the
// chain's final close reaches the parent.
type ParentRef struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	TaskQueue  string `json:"task_queue"` // the parent's, where notices go
	// Seq is the parent's StartChildWorkflowRequested; Key that command's
	// child run id (the first run of the child): together they tell a
	// notice for this child from one for another child with the same seq
	// (in a continued parent).
	Seq               int64             `json:"seq"`
	Key               string            `json:"key"`
	Attempt           int               `json:"attempt,omitempty"`
	ParentClosePolicy ParentClosePolicy `json:"parent_close_policy"`
	// RootWorkflowID and RootRunID name the top of the tree (the parent
	// itself for a child of a root run).
	RootWorkflowID string `json:"root_workflow_id"`
	RootRunID      string `json:"root_run_id"`
}

// StartChildWorkflowRequested is the command that starts a child run. The
// child's workflow id and first run id are drawn when the code issues it,
// so every redelivery of the start (and a reset's copy of it) names the
// same child: its start is exactly once.
type StartChildWorkflowRequested struct {
	Seq               int64             `json:"seq"`
	WorkflowID        string            `json:"workflow_id"`
	RunID             string            `json:"run_id"`
	WorkflowType      string            `json:"workflow_type"`
	TaskQueue         string            `json:"task_queue"`
	Input             json.RawMessage   `json:"input,omitempty"`
	ParentClosePolicy ParentClosePolicy `json:"parent_close_policy"`
	RetryPolicy       *RetryPolicy      `json:"retry_policy,omitempty"`
	// The top of the tree the parent is in (the parent, for a root run).
	RootWorkflowID string `json:"root_workflow_id"`
	RootRunID      string `json:"root_run_id"`
	// Writer attests who commanded the start (cmdauth.go).
	Writer *CommandWriter `json:"writer,omitempty"`
}

// ChildWorkflowStarted records that the child's run (of attempt Attempt)
// exists and runs.
type ChildWorkflowStarted struct {
	Seq        int64  `json:"seq"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Attempt    int    `json:"attempt"`
}

// ChildWorkflowStartFailed records that the child could not start: its
// workflow id is held by another open run.
type ChildWorkflowStartFailed struct {
	Seq        int64    `json:"seq"`
	WorkflowID string   `json:"workflow_id"`
	Failure    *Failure `json:"failure"`
}

// ChildWorkflowCompleted records the child's result (of the last run of
// its chain, RunID).
type ChildWorkflowCompleted struct {
	Seq     int64           `json:"seq"`
	RunID   string          `json:"run_id"`
	Attempt int             `json:"attempt"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// ChildWorkflowFailed records that the child closed without a result:
// failed (after its retries), canceled, terminated or timed out (Status).
type ChildWorkflowFailed struct {
	Seq     int64    `json:"seq"`
	RunID   string   `json:"run_id"`
	Attempt int      `json:"attempt"`
	Status  Status   `json:"status"`
	Failure *Failure `json:"failure"`
}

// ChildWorkflowAttemptFailed records a failed attempt of a child with a
// retry policy: the engine starts attempt Attempt+1 as run NextRunID,
// whose code starts at NextAttempt.
type ChildWorkflowAttemptFailed struct {
	Seq         int64     `json:"seq"`
	Attempt     int       `json:"attempt"`
	Failure     *Failure  `json:"failure"`
	NextAttempt time.Time `json:"next_attempt"`
	NextRunID   string    `json:"next_run_id"`
}

// ChildWorkflowCancelRequested is the command that asks a child to cancel
// (its context was cancelled).
type ChildWorkflowCancelRequested struct {
	Seq        int64  `json:"seq"`
	WorkflowID string `json:"workflow_id"`
	Key        string `json:"key"` // the child's first run id
	// Writer attests who commanded the cancellation (cmdauth.go).
	Writer *CommandWriter `json:"writer,omitempty"`
}

// ExternalSignalRequested is the command that signals another workflow
// (SignalExternalWorkflow). RequestID, drawn when the code issues it,
// makes the delivery exactly once: the target's history is checked for it.
type ExternalSignalRequested struct {
	Seq        int64           `json:"seq"`
	WorkflowID string          `json:"workflow_id"`
	RunID      string          `json:"run_id,omitempty"`
	Name       string          `json:"name"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	RequestID  string          `json:"request_id"`
	// Writer attests who sent the signal (cmdauth.go).
	Writer *CommandWriter `json:"writer,omitempty"`
}

// ExternalSignalDelivered records that the target's history holds the signal.
type ExternalSignalDelivered struct {
	Seq   int64  `json:"seq"`
	RunID string `json:"run_id"` // the target run that received it
}

// ExternalSignalFailed records that the signal could not be delivered (no
// such workflow, or its run is closed).
type ExternalSignalFailed struct {
	Seq     int64    `json:"seq"`
	Failure *Failure `json:"failure"`
}
