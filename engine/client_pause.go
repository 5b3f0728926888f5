package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/foremanhq/foreman/internal/actwire"
)

// Errors of pausing and of activity operations (errors.Is).
var (
	// ErrPauseState: the run is already paused (pause) or is not (unpause).
	ErrPauseState = errors.New("pause state")
	// ErrNoSuchActivity: no pending activity matches the selector.
	ErrNoSuchActivity = errors.New("no such pending activity")
	// ErrActivityState: the activity is not in a state the operation
	// applies to (retry-now of a running attempt, unpause of an activity
	// not paused).
	ErrActivityState = errors.New("activity state")
)

func init() {
	actwire.Register("pause_state", ErrPauseState)
	actwire.Register("no_such_activity", ErrNoSuchActivity)
	actwire.Register("activity_state", ErrActivityState)
}

// Pause pauses a run: it gets no workflow task and dispatches no new
// activity attempt until Unpause; running attempts may finish, and what
// arrives meanwhile (timers, results, signals) takes effect on resume.
func (c *Client) Pause(ctx context.Context, workflowID, runID, reason string) error {
	return c.setPaused(ctx, workflowID, runID, reason, true)
}

// Unpause resumes a paused run, dead letters included (their held
// attempts are dispatched).
func (c *Client) Unpause(ctx context.Context, workflowID, runID, reason string) error {
	return c.setPaused(ctx, workflowID, runID, reason, false)
}

func (c *Client) setPaused(ctx context.Context, workflowID, runID, reason string, pause bool) error {
	action := "pause"
	if !pause {
		action = "unpause"
	}
	if r, ok := c.forward(ctx); ok {
		_, err := c.act(ctx, r, action, actwire.Request{WorkflowID: workflowID, RunID: runID, Reason: reason})
		return err
	}
	_, err := c.appendExternal(ctx, workflowID, runID, true, func(x *Execution) ([]Event, error) {
		if (x.Paused != nil) == pause {
			if pause {
				return nil, fmt.Errorf("%w: %q is paused already (by %s at %s)", ErrPauseState, workflowID, cmpOr(x.Paused.By, "the engine"), x.Paused.At.Format(time.RFC3339))
			}
			return nil, fmt.Errorf("%w: %q is not paused", ErrPauseState, workflowID)
		}
		if pause {
			return []Event{{Type: EventWorkflowPaused, Attrs: &WorkflowPaused{Reason: reason}}}, nil
		}
		return []Event{{Type: EventWorkflowUnpaused, Attrs: &WorkflowUnpaused{Reason: reason}}}, nil
	})
	return err
}

// ActivityOperationRequest is an operator's operation on pending
// activities of a run.
type ActivityOperationRequest struct {
	// Op is one of the ActivityOp constants.
	Op string
	// Activity selects the activities: a seq, or an activity type (every
	// pending activity of that type; complete and fail want exactly one);
	// "" is the run's only pending activity.
	Activity string
	Reason   string
	// Result completes the activity (ActivityOpComplete); Failure fails it
	// (ActivityOpFail; default an OperatorFailed error with Reason).
	Result  json.RawMessage
	Failure *Failure
	// Options are ActivityOpUpdate's new options.
	Options *ActivityOptionsUpdate
}

// OperateActivity performs an operation on pending activities of a run,
// recorded in history as the client's principal's act, and returns the
// activities it acted on.
func (c *Client) OperateActivity(ctx context.Context, workflowID, runID string, req ActivityOperationRequest) ([]PendingActivity, error) {
	if r, ok := c.forward(ctx); ok {
		w := actwire.Request{WorkflowID: workflowID, RunID: runID, Reason: req.Reason, Activity: req.Activity, Input: req.Result}
		if req.Options != nil {
			w.Options, _ = json.Marshal(req.Options)
		}
		if req.Failure != nil {
			w.Failure, _ = json.Marshal(req.Failure)
		}
		rep, err := c.act(ctx, r, "activity-"+req.Op, w)
		if err != nil {
			return nil, err
		}
		var out []PendingActivity
		if len(rep.Data) > 0 {
			if err := json.Unmarshal(rep.Data, &out); err != nil {
				return nil, fmt.Errorf("activity %s: malformed answer from the engine: %w", req.Op, err)
			}
		}
		return out, nil
	}
	var acted []PendingActivity
	_, err := c.appendExternal(ctx, workflowID, runID, true, func(x *Execution) ([]Event, error) {
		if err := req.check(); err != nil { // after the run's own refusals (closed, not found)
			return nil, err
		}
		acts, err := selectActivities(x, req.Activity, req.Op == ActivityOpComplete || req.Op == ActivityOpFail)
		if err != nil {
			return nil, fmt.Errorf("activity %s on %q: %w", req.Op, workflowID, err)
		}
		now := clockOf(c.store).Now()
		var events []Event
		for _, p := range acts {
			if err := opApplies(req.Op, p, now); err != nil {
				return nil, fmt.Errorf("activity %s on %q: %s (seq %d) %w", req.Op, workflowID, p.ActivityType, p.Seq, err)
			}
			events = append(events, Event{Type: EventActivityOperation, Attrs: &ActivityOperation{Seq: p.Seq, Op: req.Op, Attempt: p.Attempt,
				Reason: req.Reason, Options: req.Options, Result: req.Result, Failure: req.Failure}})
		}
		acted = acts
		return events, nil
	})
	return acted, err
}

func (r *ActivityOperationRequest) check() error {
	switch r.Op {
	case ActivityOpRetry, ActivityOpPause, ActivityOpUnpause, ActivityOpReset, ActivityOpComplete:
	case ActivityOpFail:
		if r.Failure == nil {
			r.Failure = &Failure{Type: "OperatorFailed", Message: cmpOr(r.Reason, "failed by an operator")}
		}
	case ActivityOpUpdate:
		if r.Options == nil || *r.Options == (ActivityOptionsUpdate{}) {
			return fmt.Errorf("%w: activity update-options: no option to change", ErrInvalidArgument)
		}
	default:
		return fmt.Errorf("%w: unknown activity operation %q (retry, pause, unpause, reset, update-options, complete, fail)", ErrInvalidArgument, r.Op)
	}
	if len(r.Result) > 0 && !json.Valid(r.Result) {
		return fmt.Errorf("%w: activity complete: the result is not valid JSON", ErrInvalidArgument)
	}
	return nil
}

// selectActivities picks the pending activities sel names; one asks for
// exactly one.
func selectActivities(x *Execution, sel string, one bool) ([]PendingActivity, error) {
	var out []PendingActivity
	seq, isSeq := strconv.ParseInt(sel, 10, 64)
	for _, p := range x.Activities {
		if sel == "" || isSeq == nil && p.Seq == seq || p.ActivityType == sel {
			out = append(out, p)
		}
	}
	var names []string
	for _, p := range x.Activities {
		names = append(names, fmt.Sprintf("%s (seq %d)", p.ActivityType, p.Seq))
	}
	pending := strings.Join(names, ", ")
	if pending == "" {
		pending = "none"
	}
	switch {
	case len(out) == 0:
		return nil, fmt.Errorf("%w %q (pending: %s)", ErrNoSuchActivity, sel, pending)
	case len(out) > 1 && (one || sel == ""):
		return nil, fmt.Errorf("%w: %q names %d pending activities; give a seq (pending: %s)", ErrInvalidArgument, sel, len(out), pending)
	}
	return out, nil
}

// opApplies tells whether op applies to p now (nil), or why not.
func opApplies(op string, p PendingActivity, now time.Time) error {
	switch op {
	case ActivityOpRetry:
		if !p.Held && !p.DeadLettered && !p.NextAttempt.After(now) {
			return fmt.Errorf("%w: attempt %d is running; retry-now applies to an activity waiting for its next attempt", ErrActivityState, p.Attempt)
		}
	case ActivityOpPause:
		if p.Paused {
			return fmt.Errorf("%w: it is paused already", ErrActivityState)
		}
	case ActivityOpUnpause:
		if !p.Paused {
			return fmt.Errorf("%w: it is not paused", ErrActivityState)
		}
	}
	return nil
}
