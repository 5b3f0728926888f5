package engine

import (
	"context"
	"fmt"
	"time"
)

// The registry's entries for the run's own life: start, workflow tasks,
// cancellation, the events that close it, reset and compensation. See
// event_spec.go for what each entry declares.
func init() {
	register(map[EventType]eventSpec{
		EventWorkflowStarted: eventDef[WorkflowStarted]{
			kind:    kindFact,
			derives: deriveNothing, // the start batch wakes the run (its header's Wake)
			pending: pendingNone,
			fold: func(x *summary, e Event, a *WorkflowStarted) {
				x.WorkflowID, x.RunID, x.Type, x.TaskQueue, x.Input, x.StartTime = a.WorkflowID, a.RunID, a.WorkflowType, a.TaskQueue, a.Input, e.Time
				x.ResetFrom, x.StartedBy, x.Parent = a.ResetFrom, a.Identity, a.Parent
				x.ScheduledBy, x.ScheduledStartTime = a.ScheduledBy, a.ScheduledStartTime
				for k, v := range a.SearchAttributes {
					if x.SearchAttributes == nil {
						x.SearchAttributes = map[string]SearchAttribute{}
					}
					x.SearchAttributes[k] = v
				}
			},
			line: func(n *EventNarrator, e Event, a *WorkflowStarted) string {
				s := fmt.Sprintf("%s on queue %s", a.WorkflowType, a.TaskQueue) + n.by(a.Identity, a.OnBehalfOf)
				if a.ResetFrom != "" {
					s += ", reset from " + n.f.RunID(a.ResetFrom)
				}
				if a.ContinuedFrom != "" {
					s += ", continues " + n.f.RunID(a.ContinuedFrom)
				}
				return n.withPayload(s, a.Input)
			},
		},
		EventWorkflowTaskCompleted: eventDef[WorkflowTaskCompleted]{
			kind:    kindFact,
			derives: deriveNothing,
			pending: pendingNone,
			fold:    func(x *summary, _ Event, _ *WorkflowTaskCompleted) { x.TaskFailure = nil },
			line:    func(n *EventNarrator, _ Event, a *WorkflowTaskCompleted) string { return n.by(a.Identity, "") },
		},
		EventWorkflowTaskFailed: eventDef[WorkflowTaskFailed]{
			kind:    kindFact,
			failure: true,
			derives: deriveNothing, // the worker retries the task itself
			pending: pendingNone,
			fold:    func(x *summary, _ Event, a *WorkflowTaskFailed) { x.TaskFailure = a },
			line: func(n *EventNarrator, _ Event, a *WorkflowTaskFailed) string {
				return fmt.Sprintf("[%s] %s (attempt %d)", a.Code, n.f.Text(a.Message), a.Attempt)
			},
		},
		EventWorkflowCancelRequested: eventDef[WorkflowCancelRequested]{
			kind:    kindFact,
			derives: deriveNothing, // its batch wakes the run
			pending: pendingNone,
			fold: func(x *summary, e Event, a *WorkflowCancelRequested) {
				x.CancelRequested = true
				x.acted(e, "cancel requested", a)
			},
			line: func(n *EventNarrator, _ Event, a *WorkflowCancelRequested) string {
				return n.reason(a.Reason) + n.by(a.Identity, a.OnBehalfOf)
			},
		},
		EventWorkflowCompleted: eventDef[WorkflowCompleted]{
			kind:    kindClosingCommand,
			replay:  func(a *WorkflowCompleted) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveNothing,
			pending: pendingNone,
			outcome: func(a *WorkflowCompleted) runOutcome { return runOutcome{status: StatusCompleted, result: a.Result} },
			fold: func(x *summary, e Event, a *WorkflowCompleted) {
				x.Status, x.Result, x.CloseTime = StatusCompleted, a.Result, e.Time
			},
			line: func(n *EventNarrator, _ Event, a *WorkflowCompleted) string { return n.withPayload("result", a.Result) },
		},
		EventWorkflowFailed: eventDef[WorkflowFailed]{
			kind:    kindClosingCommand,
			failure: true,
			replay:  func(a *WorkflowFailed) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveNothing,
			pending: pendingNone,
			outcome: func(a *WorkflowFailed) runOutcome { return runOutcome{status: StatusFailed, failure: a.Failure} },
			fold: func(x *summary, e Event, a *WorkflowFailed) {
				x.Status, x.Failure, x.CloseTime = StatusFailed, a.Failure, e.Time
			},
			line: func(n *EventNarrator, _ Event, a *WorkflowFailed) string { return n.failureText(a.Failure) },
		},
		EventWorkflowCanceled: eventDef[WorkflowCanceled]{
			kind:    kindClosingCommand,
			replay:  func(a *WorkflowCanceled) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveNothing,
			pending: pendingNone,
			outcome: func(*WorkflowCanceled) runOutcome {
				return runOutcome{status: StatusCanceled, failure: &Failure{Type: "CanceledError", Message: "workflow canceled"}}
			},
			fold: func(x *summary, e Event, _ *WorkflowCanceled) { x.Status, x.CloseTime = StatusCanceled, e.Time },
			line: func(*EventNarrator, Event, *WorkflowCanceled) string { return "" }, // the type says it all
		},
		EventWorkflowTerminated: eventDef[WorkflowTerminated]{
			kind:    kindClosingFact,
			failure: true,
			derives: deriveNothing,
			pending: pendingNone,
			outcome: func(a *WorkflowTerminated) runOutcome {
				return runOutcome{status: StatusTerminated, failure: &Failure{Type: "Terminated", Message: a.Reason}}
			},
			fold: func(x *summary, e Event, a *WorkflowTerminated) {
				x.acted(e, "terminated", a)
				x.Status, x.CloseTime = StatusTerminated, e.Time
				x.Failure = &Failure{Type: "Terminated", Message: a.Reason}
			},
			line: func(n *EventNarrator, _ Event, a *WorkflowTerminated) string {
				return n.reason(a.Reason) + n.by(a.Identity, a.OnBehalfOf)
			},
		},
		EventWorkflowContinuedAsNew: eventDef[WorkflowContinuedAsNew]{
			kind:    kindClosingCommand,
			replay:  func(a *WorkflowContinuedAsNew) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveAlways, // it closes the run, and starts the next one
			derive: func(ctx context.Context, s Store, h BatchHeader, e Event, a *WorkflowContinuedAsNew) error {
				return startContinuation(ctx, s, h, e.Time, a)
			},
			pending: pendingNone,
			outcome: func(a *WorkflowContinuedAsNew) runOutcome {
				return runOutcome{status: StatusContinuedAsNew, next: a.NewRunID}
			},
			fold: func(x *summary, e Event, a *WorkflowContinuedAsNew) {
				x.Status, x.CloseTime, x.ContinuedAs = StatusContinuedAsNew, e.Time, a.NewRunID
			},
			line: func(_ *EventNarrator, _ Event, a *WorkflowContinuedAsNew) string { return "new run " + a.NewRunID },
		},
		EventWorkflowReset: eventDef[WorkflowReset]{
			kind:    kindClosingFact,
			derives: deriveAlways, // it closes the run, and builds the new one
			derive: func(ctx context.Context, s Store, h BatchHeader, e Event, a *WorkflowReset) error {
				return finishReset(ctx, s, h, e.Time, a)
			},
			pending: pendingNone,
			// reset while running: the result is the new run's
			outcome: func(a *WorkflowReset) runOutcome { return runOutcome{status: StatusReset, next: a.NewRunID} },
			fold: func(x *summary, e Event, a *WorkflowReset) {
				x.acted(e, "reset", a)
				// a reset may follow the close (a failed run reset to before the failure)
				x.Status, x.ResetTo = StatusReset, a.NewRunID
				if x.CloseTime.IsZero() {
					x.CloseTime = e.Time
				}
			},
			line: func(*EventNarrator, Event, *WorkflowReset) string { return "" }, // the type says it all
		},
		EventResetApplied: eventDef[ResetApplied]{
			kind:    kindFact,
			derives: deriveWhileOpen, // pending work of the copied history is dispatched anew
			derive: func(ctx context.Context, s Store, h BatchHeader, e Event, _ *ResetApplied) error {
				return redispatchPending(ctx, s, h, e.ID)
			},
			pending: pendingNone,
			fold:    func(*summary, Event, *ResetApplied) {}, // the copied history before it says it all
			line:    func(*EventNarrator, Event, *ResetApplied) string { return "" },
		},
		EventRunCompensated: eventDef[RunCompensated]{
			kind:    kindFact,
			derives: deriveNothing,
			pending: pendingNone,
			fold: func(x *summary, e Event, a *RunCompensated) {
				x.compensated = true
				x.acted(e, "compensated", a)
			},
			line: func(*EventNarrator, Event, *RunCompensated) string { return "" },
		},
		EventOperatorEventRejected: eventDef[OperatorEventRejected]{
			kind:    kindFact,
			failure: true,
			derives: deriveNothing,
			pending: pendingNone,
			fold: func(x *summary, _ Event, a *OperatorEventRejected) {
				if !a.Reopens {
					x.Forgeries++
				}
			},
			line: func(n *EventNarrator, _ Event, a *OperatorEventRejected) string {
				return fmt.Sprintf("ignored %s (event %d) claiming %q: %s", a.Type, a.EventID, a.Principal, a.Reason)
			},
		},
		EventRunImported: eventDef[RunImported]{
			kind:    kindFact,
			derives: deriveNothing, // an imported run is never run (its batches derive nothing either)
			pending: pendingNone,
			fold:    func(x *summary, _ Event, a *RunImported) { x.Imported = a },
			line: func(n *EventNarrator, _ Event, a *RunImported) string {
				s := "read-only copy"
				if a.Source != "" {
					s += " of " + n.f.Text(a.Source)
				}
				if !a.ExportedAt.IsZero() {
					s += " exported " + a.ExportedAt.UTC().Format(time.RFC3339)
				}
				return s + n.by(a.Identity, "")
			},
		},
	})
}
