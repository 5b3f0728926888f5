package engine

import (
	"context"
	"encoding/json"
	"fmt"
)

// The registry's entries for pausing runs and operating on activities
// (pause.go). See event_spec.go for what each entry declares.
func init() {
	register(map[EventType]eventSpec{
		EventWorkflowPaused: eventDef[WorkflowPaused]{
			kind:    kindFact,
			derives: deriveWhileOpen, // running attempts learn it (ActivityPaused)
			derive: func(ctx context.Context, s Store, h BatchHeader, _ Event, _ *WorkflowPaused) error {
				return publishPauseNotice(ctx, s, h.RunID, 0, true)
			},
			pending: pendingNone,
			fold: func(x *summary, e Event, a *WorkflowPaused) {
				x.pauses.pause(e, a)
				if !a.DeadLetter {
					x.acted(e, "paused", a)
				}
			},
			line: func(n *EventNarrator, _ Event, a *WorkflowPaused) string {
				if a.DeadLetter {
					return fmt.Sprintf("dead letter: %s (seq %d) ran out of attempts: %s", a.ActivityType, a.Seq, n.failureText(a.Failure))
				}
				return n.reason(a.Reason) + n.by(a.Identity, a.OnBehalfOf)
			},
		},
		EventWorkflowUnpaused: eventDef[WorkflowUnpaused]{
			kind:    kindFact,
			derives: deriveWhileOpen,
			derive: func(ctx context.Context, s Store, h BatchHeader, _ Event, _ *WorkflowUnpaused) error {
				return publishPauseNotice(ctx, s, h.RunID, 0, false)
			},
			pending: pendingNone,
			fold: func(x *summary, e Event, a *WorkflowUnpaused) {
				for _, seq := range x.pauses.unpause() {
					if p := x.acts[seq]; p != nil {
						p.DeadLettered = false
					}
				}
				x.acted(e, "unpaused", a)
			},
			line: func(n *EventNarrator, _ Event, a *WorkflowUnpaused) string {
				return n.reason(a.Reason) + n.by(a.Identity, a.OnBehalfOf)
			},
		},
		EventActivityOperation: eventDef[ActivityOperation]{
			kind:    kindFact,
			derives: deriveWhileOpen,
			deriveIf: func(a *ActivityOperation) bool {
				switch a.Op {
				case activityOpReleased, ActivityOpComplete, ActivityOpFail, ActivityOpPause, ActivityOpUnpause:
					return true
				}
				return false
			},
			derive:  deriveActivityOperation,
			pending: pendingUpdates,
			workSeq: func(a *ActivityOperation) int64 { return a.Seq },
			fold:    foldActivityOperation,
			line: func(n *EventNarrator, _ Event, a *ActivityOperation) string {
				s := fmt.Sprintf("%s %s (seq %d", n.activities[a.Seq].name, a.Op, a.Seq)
				if a.Attempt > 0 {
					s += fmt.Sprintf(", attempt %d", a.Attempt)
				}
				s += ")"
				switch {
				case a.Failure != nil:
					s += ": " + n.failureText(a.Failure)
				case a.Options != nil:
					o, _ := json.Marshal(a.Options)
					s += " " + string(o)
				}
				s += n.by(a.Identity, a.OnBehalfOf)
				if a.Reason != "" {
					s += ": " + n.f.Text(a.Reason)
				}
				return n.withPayload(s, a.Result)
			},
		},
	})
}

// foldActivityOperation applies an operation to the run's summary, as
// the executor's apply does to its state.
func foldActivityOperation(x *summary, e Event, a *ActivityOperation) {
	p := x.acts[a.Seq]
	if p == nil {
		return
	}
	if a.Identity != "" {
		x.acted(e, fmt.Sprintf("activity %s %s", p.ActivityType, a.Op), a)
	}
	dead := p.DeadLettered
	if liftsDeadLetter(a.Op) {
		x.pauses.lift(a.Seq)
		p.DeadLettered = false
	}
	switch a.Op {
	case activityOpHeld, ActivityOpRetry:
		p.Held = true
		p.Paused = p.Paused && a.Op != ActivityOpRetry
	case activityOpReleased:
		p.Held = false
	case ActivityOpPause:
		p.Paused = true
	case ActivityOpUnpause:
		p.Paused = false
	case ActivityOpReset:
		p.Held = p.Held || dead
	case ActivityOpComplete, ActivityOpFail:
		delete(x.acts, a.Seq)
	}
}

// deriveActivityOperation does what an operation implies outside history:
// a released attempt's task is dispatched, an attempt completed or failed
// by hand is cancelled where it runs, a paused or unpaused activity's
// running attempt is told.
func deriveActivityOperation(ctx context.Context, s Store, h BatchHeader, e Event, a *ActivityOperation) error {
	switch a.Op {
	case ActivityOpComplete, ActivityOpFail:
		return deriveCancelNotice(ctx, s, h, e, &ActivityCancelRequested{Seq: a.Seq})
	case ActivityOpPause, ActivityOpUnpause:
		return publishPauseNotice(ctx, s, h.RunID, a.Seq, a.Op == ActivityOpPause)
	}
	return dispatchReleased(ctx, s, h, e, a)
}
