package engine

import "fmt"

// The registry's entries for child workflows and signals sent by workflow
// code. See event_spec.go for what each entry declares; what they derive
// is in dispatcher_child.go.
func init() {
	register(map[EventType]eventSpec{
		EventStartChildWorkflowRequested: eventDef[StartChildWorkflowRequested]{
			kind: kindCommand,
			replay: func(a *StartChildWorkflowRequested) replayKey {
				return replayKey{seq: a.Seq, key: a.WorkflowType, label: a.WorkflowType}
			},
			// a child started by the task that closes the parent still
			// starts (and its parent close policy then applies at once):
			// an abandoned child may be started and left behind
			derives: deriveAlways,
			derive:  deriveStartChild,
			pending: pendingOpens,
			workSeq: func(a *StartChildWorkflowRequested) int64 { return a.Seq },
			fold: func(x *summary, e Event, a *StartChildWorkflowRequested) {
				x.Children = append(x.Children, ChildRun{Seq: a.Seq, WorkflowID: a.WorkflowID, RunID: a.RunID, Key: a.RunID, Type: a.WorkflowType,
					TaskQueue: a.TaskQueue, Status: ChildStarting, ParentClosePolicy: a.ParentClosePolicy, Attempt: 1, RequestEventID: e.ID})
			},
			line: func(n *EventNarrator, _ Event, a *StartChildWorkflowRequested) string {
				return n.withPayload(fmt.Sprintf("%s %s on %s, parent close %s", a.WorkflowType, a.WorkflowID, a.TaskQueue, a.ParentClosePolicy), a.Input)
			},
		},
		EventChildWorkflowStarted: eventDef[ChildWorkflowStarted]{
			kind: kindFact,
			// a child that closed while its parent was being reset told
			// the old run: the new one learns it here
			derives: deriveWhileOpen,
			derive:  deriveChildStarted,
			pending: pendingUpdates,
			workSeq: func(a *ChildWorkflowStarted) int64 { return a.Seq },
			fold: func(x *summary, _ Event, a *ChildWorkflowStarted) {
				if c := x.child(a.Seq); c != nil {
					c.RunID, c.Attempt, c.Status = a.RunID, a.Attempt, StatusRunning
				}
			},
			line: func(n *EventNarrator, _ Event, a *ChildWorkflowStarted) string {
				return fmt.Sprintf("%s run %s (attempt %d)", a.WorkflowID, n.f.RunID(a.RunID), a.Attempt)
			},
		},
		EventChildWorkflowStartFailed: eventDef[ChildWorkflowStartFailed]{
			kind:    kindFact,
			failure: true,
			derives: deriveNothing, // recorded by the workflow task that handles it
			pending: pendingCloses,
			workSeq: func(a *ChildWorkflowStartFailed) int64 { return a.Seq },
			fold: func(x *summary, _ Event, a *ChildWorkflowStartFailed) {
				if c := x.child(a.Seq); c != nil {
					c.Status = ChildStartFailed
				}
			},
			line: func(n *EventNarrator, _ Event, a *ChildWorkflowStartFailed) string {
				return a.WorkflowID + ": " + n.failureText(a.Failure)
			},
		},
		EventChildWorkflowCompleted: eventDef[ChildWorkflowCompleted]{
			kind:    kindFact,
			derives: deriveNothing, // recorded by the workflow task that handles it
			pending: pendingCloses,
			workSeq: func(a *ChildWorkflowCompleted) int64 { return a.Seq },
			fold: func(x *summary, _ Event, a *ChildWorkflowCompleted) {
				if c := x.child(a.Seq); c != nil {
					c.RunID, c.Status = a.RunID, StatusCompleted
				}
			},
			line: func(n *EventNarrator, _ Event, a *ChildWorkflowCompleted) string {
				return n.withPayload(fmt.Sprintf("seq %d run %s", a.Seq, n.f.RunID(a.RunID)), a.Result)
			},
		},
		EventChildWorkflowFailed: eventDef[ChildWorkflowFailed]{
			kind:    kindFact,
			failure: true,
			derives: deriveNothing, // recorded by the workflow task that handles it
			pending: pendingCloses,
			workSeq: func(a *ChildWorkflowFailed) int64 { return a.Seq },
			fold: func(x *summary, _ Event, a *ChildWorkflowFailed) {
				if c := x.child(a.Seq); c != nil {
					c.RunID, c.Status = a.RunID, a.Status
				}
			},
			line: func(n *EventNarrator, _ Event, a *ChildWorkflowFailed) string {
				return fmt.Sprintf("seq %d %s: %s", a.Seq, a.Status, n.failureText(a.Failure))
			},
		},
		EventChildWorkflowAttemptFailed: eventDef[ChildWorkflowAttemptFailed]{
			kind:    kindFact,
			failure: true,
			derives: deriveWhileOpen,
			derive:  deriveChildRetry,
			pending: pendingUpdates,
			workSeq: func(a *ChildWorkflowAttemptFailed) int64 { return a.Seq },
			fold: func(x *summary, _ Event, a *ChildWorkflowAttemptFailed) {
				if c := x.child(a.Seq); c != nil {
					c.RunID, c.Attempt, c.Status = a.NextRunID, a.Attempt+1, ChildStarting
				}
			},
			line: func(n *EventNarrator, e Event, a *ChildWorkflowAttemptFailed) string {
				return fmt.Sprintf("seq %d attempt %d: %s; retry in %s", a.Seq, a.Attempt, n.failureText(a.Failure), n.f.Duration(a.NextAttempt.Sub(e.Time)))
			},
		},
		EventChildWorkflowCancelRequested: eventDef[ChildWorkflowCancelRequested]{
			kind:    kindCommand,
			replay:  func(a *ChildWorkflowCancelRequested) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveAlways, // a closing parent still cancels its child
			derive:  deriveChildCancel,
			pending: pendingNone, // the child's close ends the wait
			fold: func(x *summary, _ Event, a *ChildWorkflowCancelRequested) {
				if c := x.child(a.Seq); c != nil {
					c.CancelRequested = true
				}
			},
			line: func(_ *EventNarrator, _ Event, a *ChildWorkflowCancelRequested) string { return a.WorkflowID },
		},
		EventExternalSignalRequested: eventDef[ExternalSignalRequested]{
			kind: kindCommand,
			replay: func(a *ExternalSignalRequested) replayKey {
				return replayKey{seq: a.Seq, key: a.Name, label: a.Name}
			},
			derives: deriveWhileOpen,
			derive:  deriveExternalSignal,
			pending: pendingOpens,
			workSeq: func(a *ExternalSignalRequested) int64 { return a.Seq },
			fold:    func(*summary, Event, *ExternalSignalRequested) {},
			line: func(n *EventNarrator, _ Event, a *ExternalSignalRequested) string {
				return n.withPayload(fmt.Sprintf("%s to %s", a.Name, a.WorkflowID), a.Payload)
			},
		},
		EventExternalSignalDelivered: eventDef[ExternalSignalDelivered]{
			kind:    kindFact,
			derives: deriveNothing,
			pending: pendingCloses,
			workSeq: func(a *ExternalSignalDelivered) int64 { return a.Seq },
			fold:    func(*summary, Event, *ExternalSignalDelivered) {},
			line: func(n *EventNarrator, _ Event, a *ExternalSignalDelivered) string {
				return fmt.Sprintf("seq %d to run %s", a.Seq, n.f.RunID(a.RunID))
			},
		},
		EventExternalSignalFailed: eventDef[ExternalSignalFailed]{
			kind:    kindFact,
			failure: true,
			derives: deriveNothing,
			pending: pendingCloses,
			workSeq: func(a *ExternalSignalFailed) int64 { return a.Seq },
			fold:    func(*summary, Event, *ExternalSignalFailed) {},
			line: func(n *EventNarrator, _ Event, a *ExternalSignalFailed) string {
				return fmt.Sprintf("seq %d: %s", a.Seq, n.failureText(a.Failure))
			},
		},
	})
}

// ChildRun is a child as its parent's history tells it (Execution.Children).
type ChildRun struct {
	Seq        int64  `json:"seq"`
	WorkflowID string `json:"workflow_id"`
	// RunID is the run of the child's current attempt (its first run
	// until it started; the last run of its chain once it closed).
	RunID     string `json:"run_id"`
	Key       string `json:"-"` // the first run id: names the child in notices
	Type      string `json:"type"`
	TaskQueue string `json:"task_queue"`
	// Status: starting, running, then completed, failed, canceled,
	// terminated or start_failed.
	Status            Status            `json:"status"`
	ParentClosePolicy ParentClosePolicy `json:"parent_close_policy"`
	Attempt           int               `json:"attempt"`
	CancelRequested   bool              `json:"cancel_requested,omitempty"`
	// RequestEventID is the parent's StartChildWorkflowRequested event.
	RequestEventID int64 `json:"request_event_id"`
}

// Child statuses besides the run statuses.
const (
	ChildStarting    Status = "starting"
	ChildStartFailed Status = "start_failed"
)

// Open tells whether the child may still run.
func (c ChildRun) Open() bool { return c.Status == ChildStarting || c.Status == StatusRunning }

func (x *summary) child(seq int64) *ChildRun {
	for i := range x.Children {
		if x.Children[i].Seq == seq {
			return &x.Children[i]
		}
	}
	return nil
}
