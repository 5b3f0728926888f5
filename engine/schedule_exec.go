package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// scheduleExec decides a schedule's fires and carries out what was
// decided: the scheduler (timers), and the schedule client (trigger,
// backfill) share it.
type scheduleExec struct {
	store Store
	ss    ScheduleStore
	// client acts for the schedule: its principal starts, cancels and
	// terminates runs (the engine's own client when the scheduler acts).
	client func(scheduleID string) *Client
}

// isOpen tells whether the run chain of workflowID is open (a run that
// continued as new or was reset goes on in its successor).
func (x *scheduleExec) isOpen(ctx context.Context, workflowID string) (bool, error) {
	rec, _, err := x.store.GetRun(ctx, workflowID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	last, err := x.store.LastBatch(ctx, rec.RunID)
	if errors.Is(err, ErrNotFound) {
		return true, nil // started, its first batch not yet appended
	}
	if err != nil {
		return false, err
	}
	return !last.Header.Closed || continuedAs(last) != "", nil
}

// refreshRunning drops the runs that closed from d.Running.
func (x *scheduleExec) refreshRunning(ctx context.Context, d *ScheduleDescription) (bool, error) {
	kept := d.Running[:0:0]
	for _, r := range d.Running {
		open, err := x.isOpen(ctx, r.WorkflowID)
		if err != nil {
			return false, fmt.Errorf("schedule %s: is %s open: %w", d.Schedule.ID, r.WorkflowID, err)
		}
		if open {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(d.Running) {
		return false, nil
	}
	if len(kept) == 0 {
		kept = nil
	}
	d.Running = kept
	return true, nil
}

// pass brings a schedule up to now: it drops closed runs when a decision
// needs them, starts a buffered fire when nothing is open, decides the due
// fires, then applies extra (a trigger, a backfill; nil: none). It
// returns the record written and the steps this pass decided (the caller
// carries them out; steps decided by others are theirs unless stale).
func (x *scheduleExec) pass(ctx context.Context, id string, now time.Time, cached cachedRecord, extra func(d *ScheduleDescription) (bool, error)) (*ScheduleDescription, []ScheduleStep, error) {
	var fresh []ScheduleStep
	d, err := modifyScheduleFrom(ctx, x.ss, id, cached, func(d *ScheduleDescription) (bool, error) {
		spec, err := compileSpec(id, d.Schedule.Spec)
		if err != nil {
			return false, err
		}
		before := len(d.Pending)
		changed := false
		if d.needsOpenCheck(spec, now) {
			if changed, err = x.refreshRunning(ctx, d); err != nil {
				return false, err
			}
		}
		changed = d.promote() || changed
		changed = d.advance(spec, now) || changed
		if extra != nil {
			more, err := extra(d)
			if err != nil {
				return false, err
			}
			changed = more || changed
		}
		fresh = append(fresh[:0], d.Pending[before:]...)
		return changed, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return d, fresh, nil
}

// carryOut performs steps in order and settles them in the record. A
// transient failure stops it (later steps may depend on earlier ones:
// terminate, then start); the steps left wait in the outbox.
func (x *scheduleExec) carryOut(ctx context.Context, d *ScheduleDescription, steps []ScheduleStep) error {
	if len(steps) == 0 {
		return nil
	}
	sch := d.Schedule
	c := x.client(sch.ID)
	var done []stepDone
	var failed error
	for _, st := range steps {
		sd, err := x.perform(ctx, c, &sch, st)
		if err != nil {
			failed = err
			break
		}
		done = append(done, sd)
	}
	if len(done) > 0 {
		if _, err := modifySchedule(ctx, x.ss, sch.ID, func(d *ScheduleDescription) (bool, error) {
			return d.settle(done), nil
		}); err != nil && !errors.Is(err, ErrScheduleNotFound) {
			return err
		}
	}
	return failed
}

// perform carries out one step. Starting is idempotent: the workflow id
// is the fire's own and RejectDuplicate refuses a second run of it, so a
// step carried out twice (a crash before it was settled, two engines)
// starts one run, and the second attempt finds it.
func (x *scheduleExec) perform(ctx context.Context, c *Client, sch *Schedule, st ScheduleStep) (stepDone, error) {
	sd := stepDone{step: st}
	reason := fmt.Sprintf("schedule %s: overlap policy %s (fire at %s)", sch.ID, st.Fire.Overlap, st.Fire.At.UTC().Format(FireTimeFormat))
	switch st.Kind {
	case stepCancel, stepTerminate:
		var err error
		if st.Kind == stepCancel {
			err = c.Cancel(ctx, st.WorkflowID, "", reason)
		} else {
			err = c.Terminate(ctx, st.WorkflowID, "", reason)
		}
		if err == nil || errors.Is(err, ErrRunClosed) || errors.Is(err, ErrWorkflowNotFound) {
			return sd, nil
		}
		return sd, fmt.Errorf("schedule %s: %s %s: %w", sch.ID, st.Kind, st.WorkflowID, err)
	}
	a := sch.Action
	var input any
	if len(a.Input) > 0 {
		input = json.RawMessage(a.Input)
	}
	opts := StartOptions{ID: st.WorkflowID, TaskQueue: a.TaskQueue, IDReusePolicy: RejectDuplicate,
		SearchAttributes: a.SearchAttributes, scheduledBy: sch.ID, scheduledAt: st.Fire.At}
	run, err := c.start(ctx, opts, a.WorkflowType, input, nil)
	now := clockOf(x.store).Now().UTC()
	sd.run = run
	sd.result = ScheduleActionResult{ScheduledTime: st.Fire.At, ActualTime: now, Trigger: st.Fire.Trigger, Outcome: FireStarted,
		WorkflowID: st.WorkflowID, RunID: run.RunID}
	switch {
	case err == nil, errors.Is(err, ErrAlreadyStarted) && run.RunID != "":
		// started now, or by an earlier attempt at this very step
		return sd, nil
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, ErrTooLarge):
		sd.result.Outcome, sd.result.Detail = FireFailed, err.Error()
		return sd, nil
	}
	return sd, fmt.Errorf("schedule %s: starting %s: %w", sch.ID, st.WorkflowID, err)
}
