package engine

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/google/uuid"
)

// ContinueAsNewError, returned by a workflow, closes the run and starts a
// new run of the same workflow id and type with Input and a fresh history.
// Signals received and not yet consumed are carried over, none lost.
type ContinueAsNewError struct {
	Input any
}

func (e *ContinueAsNewError) Error() string { return "continue as new" }

// NewContinueAsNewError returns the error that continues the workflow as a
// new run with input.
func NewContinueAsNewError(ctx Context, input any) error {
	return &ContinueAsNewError{Input: input}
}

// continueAsNew issues the closing command. The new run id is drawn here,
// live; on replay the recorded command is matched by type and seq only.
func (env *workflowEnv) continueAsNew(seq int64, can *ContinueAsNewError) {
	raw, err := encodePayload(can.Input, "continue-as-new input")
	if err != nil {
		env.addCommand(&command{typ: EventWorkflowFailed, attrs: &WorkflowFailed{Seq: seq, Failure: FailureFrom(err)}, desc: "fails the workflow"})
		return
	}
	names := make([]string, 0, len(env.signals))
	for n := range env.signals {
		names = append(names, n)
	}
	sort.Strings(names)
	var carried []SignalReceived
	for _, n := range names {
		for _, v := range env.signals[n].buf {
			p, _ := v.(json.RawMessage)
			carried = append(carried, SignalReceived{Name: n, Payload: p, Identity: "carried over"})
		}
	}
	env.addCommand(&command{typ: EventWorkflowContinuedAsNew, desc: fmt.Sprintf("continues as new (seq %d)", seq),
		attrs: &WorkflowContinuedAsNew{Seq: seq, NewRunID: uuid.NewString(), WorkflowType: env.info.WorkflowType, Input: raw, Signals: carried, Parent: env.parent,
			ScheduledBy: env.info.ScheduledBy, ScheduledStartTime: env.info.ScheduledStartTime}})
}
