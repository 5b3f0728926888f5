package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The engine side of pausing (pause.go): what the dispatcher derives, and
// how a worker advances a paused run.

// ActivityPaused tells an activity whether its run, or the activity
// itself, was paused while the attempt runs. The attempt may finish (its
// result is kept for the run's resume) or stop at a good point and
// return an error (its retry waits for the resume).
func ActivityPaused(ctx context.Context) bool {
	r, ok := ctx.Value(activityKey{}).(*activityRun)
	return ok && r.paused.Load()
}

// publishPauseNotice tells the workers running the run's attempts (seq 0:
// all of them) that it was paused or resumed.
func publishPauseNotice(ctx context.Context, s Store, runID string, seq int64, paused bool) error {
	n, _ := json.Marshal(cancelNotice{RunID: runID, Seq: seq, Pause: &paused})
	return s.PublishCancel(ctx, n)
}

// onPauseNotice marks the attempts a pause notice is about.
func (w *Worker) onPauseNotice(n cancelNotice) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.attempts {
		if r.info.RunID == n.RunID && (n.Seq == 0 || n.Seq == r.info.Seq) {
			r.paused.Store(*n.Pause)
		}
	}
}

// dispatchReleased publishes the task of a released attempt, built from
// the run's history (the activity's input and its options as updated up
// to the release). Its message id is the attempt's, so a redelivered
// batch dispatches it once.
func dispatchReleased(ctx context.Context, s Store, h BatchHeader, e Event, a *ActivityOperation) error {
	events, err := readEvents(ctx, s, h.RunID)
	if err != nil {
		return fmt.Errorf("releasing activity seq %d: %w", a.Seq, err)
	}
	var sched *ActivityScheduled
	var at time.Time
	opts := ActivityOptions{}
	for _, ev := range events {
		if ev.ID > e.ID {
			break
		}
		switch x := ev.Attrs.(type) {
		case *ActivityScheduled:
			if x.Seq == a.Seq {
				sched, at, opts = x, ev.Time, x.Options
			}
		case *ActivityOperation:
			if x.Seq == a.Seq && x.Op == ActivityOpUpdate {
				opts = x.Options.applyTo(opts)
			}
		}
	}
	if sched == nil {
		return nil // not this run's activity: nothing to dispatch
	}
	if reachesBeyond(sched, h.TaskQueue) {
		if refused, err := refuseForeignActivity(ctx, s, h, sched, a.Attempt); refused || err != nil {
			return err
		}
	}
	queue := sched.TaskQueue
	if opts.TaskQueue == "" {
		opts.TaskQueue = queue
	}
	t, _ := json.Marshal(activityTask{RunID: h.RunID, WorkflowID: h.WorkflowID, WorkflowQueue: h.TaskQueue, Seq: a.Seq,
		ActivityType: sched.ActivityType, Input: sched.Input, Options: opts, Attempt: a.Attempt, ScheduledAt: at, DispatchedAt: clockOf(s).Now().UTC()})
	if err := s.PublishTask(ctx, ActivityTaskKind, queue, t, activityMsgID(h.RunID, a.Seq, a.Attempt)); err != nil {
		return err
	}
	return deriveScheduleToStart(ctx, s, h, a.Seq, a.Attempt, sched.ActivityType, opts.ScheduleToStartTimeout, e.Time)
}

// releases are the facts that dispatch the held attempts a run may run
// now (neither it nor the activity paused), in seq order.
func (env *workflowEnv) releases() []Event {
	if env.pauses.paused() || len(env.held) == 0 {
		return nil
	}
	var out []Event
	for _, seq := range slices.Sorted(maps.Keys(env.held)) {
		if st := env.activities[seq]; st != nil && !st.done && !st.paused {
			out = append(out, Event{Type: EventActivityOperation, Attrs: &ActivityOperation{Seq: seq, Op: activityOpReleased, Attempt: st.attempt}})
		}
	}
	return out
}

// recordWhilePaused appends the facts that arrived for a paused run (a
// timer, an activity's outcome, a held attempt) without running its code,
// and applies them: the code sees them on resume, once.
func (w *Worker) recordWhilePaused(ctx context.Context, env *workflowEnv, events []Event, now time.Time) (taskOutcome, bool) {
	b := &Batch{Kind: BatchTask, TaskTime: now}
	id := env.lastEventID
	for _, e := range events {
		id++
		e.ID, e.Time = id, now
		b.Events = append(b.Events, e)
	}
	data, err := encodeBatch(b)
	if err != nil {
		return nakAfter(time.Second), false
	}
	h := headerFor(b, env.info.RunID, env.info.WorkflowID, env.info.TaskQueue)
	seq, err := w.store.AppendHistory(ctx, h, data, env.lastSeq, "")
	switch {
	case errors.Is(err, ErrConflict):
		return taskOutcome{}, true
	case err != nil:
		w.log.Warn("recording a paused run's event failed; task will be retried", "run", env.info.RunID, "err", err)
		return nakAfter(500 * time.Millisecond), false
	}
	if err := env.applyBatch(StoredBatch{Seq: seq}, b); err != nil {
		return taskOutcome{}, true // reload from history
	}
	return ackTask, false
}
