package engine

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// What the engine tells a parent run about its children, and a sender
// about its external signals (dispatcher_child.go publishes them).
const (
	inboundChildStarted     inboundKind = "child_started"
	inboundChildStartFailed inboundKind = "child_start_failed"
	inboundChildClosed      inboundKind = "child_closed"
	inboundSignalSent       inboundKind = "signal_sent"
)

// acceptChild judges a notice about a child or a sent signal against the
// run's state, as accept does for activities: a notice the state already
// reflects (a redelivery, a notice for another child with the same seq
// after continue-as-new, an older attempt) records nothing, so each is
// recorded exactly once.
func acceptChild(env *workflowEnv, in *inbound, now time.Time) (decision, bool) {
	switch in.Kind {
	case inboundChildStarted, inboundChildStartFailed, inboundChildClosed:
	case inboundSignalSent:
		if f := env.signalSends()[in.Seq]; f == nil || f.ready {
			return decision{}, true
		}
		if in.Failure != nil {
			return decision{events: []Event{{Type: EventExternalSignalFailed, Attrs: &ExternalSignalFailed{Seq: in.Seq, Failure: in.Failure}}}}, true
		}
		return decision{events: []Event{{Type: EventExternalSignalDelivered, Attrs: &ExternalSignalDelivered{Seq: in.Seq, RunID: in.RunID}}}}, true
	default:
		return decision{}, false
	}
	st := env.childStates()[in.Seq]
	if st == nil || st.closed || st.key != in.Key || max(in.Attempt, 1) != st.attempt {
		return decision{}, true
	}
	var events []Event
	if !st.started && in.Kind != inboundChildStartFailed {
		// a close may come before the start's notice (the engine crashed
		// between the start and its notice): record both
		events = append(events, Event{Type: EventChildWorkflowStarted, Attrs: &ChildWorkflowStarted{Seq: in.Seq, WorkflowID: st.id, RunID: startedRun(st, in), Attempt: st.attempt}})
	}
	switch in.Kind {
	case inboundChildStartFailed:
		if st.started {
			return decision{}, true
		}
		events = append(events, Event{Type: EventChildWorkflowStartFailed, Attrs: &ChildWorkflowStartFailed{Seq: in.Seq, WorkflowID: st.id, Failure: in.Failure}})
	case inboundChildClosed:
		events = append(events, childCloseEvent(st, in, now))
	}
	return decision{events: events}, true
}

// startedRun is the child run a notice names as started: a close notice
// names the chain's last run, whose first run is the attempt's.
func startedRun(st *childState, in *inbound) string {
	if in.Kind == inboundChildStarted {
		return in.RunID
	}
	return childRunID(st.key, st.attempt)
}

// childCloseEvent is what a child's close means to its parent: its result,
// its failure, or (a failed run with retries left) the next attempt.
func childCloseEvent(st *childState, in *inbound, now time.Time) Event {
	if in.Status == StatusCompleted {
		return Event{Type: EventChildWorkflowCompleted, Attrs: &ChildWorkflowCompleted{Seq: in.Seq, RunID: in.RunID, Attempt: st.attempt, Result: in.Result}}
	}
	f := in.Failure
	if f == nil {
		f = &Failure{Type: string(in.Status), Message: "child workflow " + string(in.Status)}
	}
	if in.Status == StatusFailed && st.retry != nil && !st.cancelRequested {
		if p := st.retry.normalized(); p.retryable(f, st.attempt) {
			return Event{Type: EventChildWorkflowAttemptFailed, Attrs: &ChildWorkflowAttemptFailed{Seq: in.Seq, Attempt: st.attempt, Failure: f,
				NextAttempt: now.Add(p.backoff(st.attempt)), NextRunID: childRunID(st.key, st.attempt+1)}}
		}
	}
	return Event{Type: EventChildWorkflowFailed, Attrs: &ChildWorkflowFailed{Seq: in.Seq, RunID: in.RunID, Attempt: st.attempt, Status: in.Status, Failure: f}}
}

// childRunID is the run id of a child's attempt: the first is drawn by the
// parent's code; later ones follow from it, so a redelivered retry starts
// the same run.
func childRunID(key string, attempt int) string {
	if attempt <= 1 {
		return key
	}
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(key+"/"+strconv.Itoa(attempt))).String()
}
