package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// The dispatcher is the engine's transactional outbox: it reads every
// history batch once appended (at least once, in order) and derives what the
// batch implies — a workflow task for new external events, activity tasks,
// durable timers, cancellation notices. A batch is acknowledged only after
// all of that is stored, so a crash at any point loses nothing; everything
// it publishes has a stable message id, so redoing it is harmless.

const dispatcherDurable = "dispatcher"

// firstBatchInTaskMax bounds the start batch a wake task carries (bigger
// inputs are read from history instead).
const firstBatchInTaskMax = 64 << 10

func runDispatcher(ctx context.Context, s Store, log *slog.Logger, guardDelay time.Duration) error {
	pool := newGoPool()
	defer pool.close()
	holds := newGuardHolds(s, log, guardDelay)
	return holds.consume(ctx, func(batches []StoredBatch, hold holdFunc) error {
		guards := holds.plan(batches, hold)
		if len(batches) == 1 {
			// one batch (an idle engine's case, a run's start or close
			// among them): derived here, without waking another goroutine
			if err := deriveLogged(ctx, s, log, guards, 0, batches[0]); err != nil {
				return err
			}
			guards.commit()
			return nil
		}
		// Different runs are independent: derive their tasks concurrently.
		var wg sync.WaitGroup
		errs := make(chan error, len(batches))
		sem := make(chan struct{}, 64)
		for i, sb := range batches {
			wg.Add(1)
			sem <- struct{}{}
			pool.Go(func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := deriveLogged(ctx, s, log, guards, i, sb); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			return err
		}
		guards.commit()
		return nil
	})
}

// deriveLogged is derive and the batch's guards, logging a failure: an
// error is the batch's to be redelivered, nil also when the store refuses
// its tasks for good.
func deriveLogged(ctx context.Context, s Store, log *slog.Logger, guards *guardPlan, i int, sb StoredBatch) error {
	taken := guards.startTaken(i, sb.Header)
	quiet, err := derive(ctx, s, sb, taken)
	if err == nil && taken {
		err = guards.holdStart(ctx, s, i, sb)
	}
	if err == nil {
		err = guards.guard(ctx, s, i, sb.Header, quiet)
	}
	if err == nil {
		return nil
	}
	// The run's ids and queue; no attempt: the consumer's redeliveries
	// are not counted here.
	h := sb.Header
	if errors.Is(err, ErrInvalidArgument) {
		// Redelivery cannot help a batch the store refuses for good;
		// retrying it forever would hot-loop.
		log.Error("skipped a history batch whose tasks the store refuses", "workflow_id", h.WorkflowID, "run_id", h.RunID, "queue", h.TaskQueue, "seq", sb.Seq, "err", err)
		return nil
	}
	log.Warn("dispatching a history batch failed; it will be redelivered", "workflow_id", h.WorkflowID, "run_id", h.RunID, "queue", h.TaskQueue, "seq", sb.Seq, "err", err)
	return fmt.Errorf("run %s batch %d: %w", h.RunID, sb.Seq, err)
}

// derive stores the tasks and timers one batch implies, except its eager
// attempts' guards (guardPlan.guard's) and, when a worker took the run's
// first workflow task (startTaken: guardPlan.holdStart's), its wake task;
// quiet tells that it implies nothing else than those attempts and their
// timeouts.
func derive(ctx context.Context, s Store, sb StoredBatch, startTaken bool) (quiet bool, err error) {
	h := sb.Header
	if h.Kind == BatchImported {
		return false, nil // a copy for investigation: it must never reach a worker
	}
	var screened *Batch
	v, err := verifierOf(ctx, s)
	if err != nil {
		return false, err
	}
	if v != nil && (h.Kind == BatchExternal && h.LastEventID > 1 || h.Closed) {
		// only batches an operator event can hide in and matter for: the
		// hot path (task batches of open runs, lone starts) is not decoded
		// twice
		b, err := DecodeBatch(sb.Data)
		if err == nil {
			if forged := v.screen(h.RunID, b); len(forged) > 0 {
				if err := rejectForgery(ctx, s, sb, b, forged); err != nil {
					return false, err
				}
				h.Closed = h.Closed && closes(b)
				screened = b
			}
		}
	}
	if h.Wake && !startTaken {
		if err := publishWake(ctx, s, sb); err != nil {
			return false, err
		}
	}
	if h.Closed && !h.Lone { // a lone run has no family to tell
		if screened == nil {
			screened, _ = DecodeBatch(sb.Data)
		}
		if screened != nil {
			if err := deriveRunClosed(ctx, s, h, screened); err != nil {
				return false, err
			}
		}
	}
	quiet = !h.Wake && !h.Closed
	if !h.Derive {
		return quiet, nil
	}
	b := screened
	if b == nil {
		var err error
		if b, err = DecodeBatch(sb.Data); err != nil {
			return false, nil // a batch we cannot read implies nothing; replay reports it
		}
	}
	var chained map[int64]bool
	if h.Kind == BatchTask && h.Settles != "" { // (a chain's batch settles what it completes)
		chained = chainedActivities(b)
	}
	for _, e := range b.Events {
		if h.Closed && !specOf(e.Type).deriveAfterClose() {
			continue // a closed run starts nothing new, but still stops what runs
		}
		if a, ok := e.Attrs.(*ActivityScheduled); ok && chained[a.Seq] {
			continue // run and completed before the batch was stored: nothing to dispatch or time
		}
		if derivesFrom(e) && !isEagerScheduled(h, e) {
			quiet = false
		}
		if err := deriveEvent(ctx, s, h, e); err != nil {
			return false, err
		}
	}
	return quiet, nil
}

// chainedActivities are the activities batch b both schedules and
// completes (a chain, worker_chain.go), or nil: nothing to dispatch or
// time for them. One pass for the completions, one for the schedules.
func chainedActivities(b *Batch) map[int64]bool {
	var completed map[int64]bool
	for _, e := range b.Events {
		if a, ok := e.Attrs.(*ActivityCompleted); ok {
			if completed == nil {
				completed = map[int64]bool{}
			}
			completed[a.Seq] = true
		}
	}
	if completed == nil {
		return nil
	}
	chained := map[int64]bool{}
	for _, e := range b.Events {
		if a, ok := e.Attrs.(*ActivityScheduled); ok && completed[a.Seq] {
			chained[a.Seq] = true
		}
	}
	return chained
}

// publishWake stores the workflow task a batch wakes its run with (its
// message id is stable: a batch derived again stores it once).
func publishWake(ctx context.Context, s Store, sb StoredBatch) error {
	h := sb.Header
	wt := workflowTask{RunID: h.RunID, WorkflowID: h.WorkflowID, HistorySeq: sb.Seq, Trace: h.Trace}
	if h.FirstEventID == 1 && len(sb.Data) <= firstBatchInTaskMax {
		wt.First = sb.Data
	}
	t, _ := json.Marshal(wt)
	return s.PublishTask(ctx, WorkflowTaskKind, h.TaskQueue, t, wakeMsgID(h.RunID, sb.Seq))
}

// wfTimer stores a durable timer that delivers a workflow task to the run.
func wfTimer(ctx context.Context, s Store, h BatchHeader, kind string, seq int64, fireAt time.Time, in *inbound) error {
	t, _ := json.Marshal(workflowTask{RunID: h.RunID, WorkflowID: h.WorkflowID, Inbound: in})
	key := timerKey(h.RunID, kind, seq)
	body, _ := json.Marshal(storedTimerBody{Kind: WorkflowTaskKind, Queue: h.TaskQueue, MsgID: "tm-" + key, Task: t})
	return s.PutTimer(ctx, StoredTimer{Key: key, FireAt: fireAt, Data: body})
}

// deriveScheduleToClose stores the schedule-to-close timeout of an activity, if it has one.
func deriveScheduleToClose(ctx context.Context, s Store, h BatchHeader, scheduled Event) error {
	a, ok := scheduled.Attrs.(*ActivityScheduled)
	if !ok {
		return nil // only activities have one
	}
	s2c := a.Options.ScheduleToCloseTimeout
	if s2c <= 0 {
		return nil
	}
	f := &Failure{Type: "TimeoutError", Message: fmt.Sprintf("activity %s did not finish within %s", a.ActivityType, s2c), TimeoutType: "schedule_to_close"}
	return wfTimer(ctx, s, h, "s2c", a.Seq, scheduled.Time.Add(s2c), &inbound{Kind: inboundActivityTimeout, Seq: a.Seq, Failure: f})
}

// deriveScheduleToStart stores the schedule-to-start timeout of one
// attempt, if the activity has one: due dueAt + s2s, judged when it fires
// against the attempt's start record (a worker that takes the attempt
// writes one first), so the engine fires it even if no worker ever polls
// the queue.
func deriveScheduleToStart(ctx context.Context, s Store, h BatchHeader, seq int64, attempt int, activityType string, s2s time.Duration, dueAt time.Time) error {
	if s2s <= 0 {
		return nil
	}
	what := "attempt " + strconv.Itoa(attempt)
	if activityType != "" {
		what = "activity " + activityType + " " + what
	}
	f := &Failure{Type: "TimeoutError", Message: fmt.Sprintf("%s was not taken by a worker within %s", what, s2s), TimeoutType: "schedule_to_start"}
	return wfTimer(ctx, s, h, "s2s"+strconv.Itoa(attempt), seq, dueAt.Add(s2s), &inbound{Kind: inboundActivityTimeout, Seq: seq, Attempt: attempt, Failure: f})
}

// deriveEvent stores what one event implies, as its registry entry declares.
func deriveEvent(ctx context.Context, s Store, h BatchHeader, e Event) error {
	return specOf(e.Type).deriveFrom(ctx, s, h, e)
}

// What the registry's entries (event_table_*.go) derive from their events.

// deriveActivityTask queues an activity's first attempt and stores its
// schedule-to-start and schedule-to-close timeouts.
func deriveActivityTask(ctx context.Context, s Store, h BatchHeader, e Event, a *ActivityScheduled) error {
	if reachesBeyond(a, h.TaskQueue) {
		if refused, err := refuseForeignActivity(ctx, s, h, a, 1); refused || err != nil {
			return err
		}
	}
	if eagerOwner(h, a.Seq) == "" { // an eager attempt's guard is published from the header
		t, _ := json.Marshal(activityTask{RunID: h.RunID, WorkflowID: h.WorkflowID, WorkflowQueue: h.TaskQueue, Seq: a.Seq,
			ActivityType: a.ActivityType, Input: a.Input, Options: a.Options, Attempt: 1, ScheduledAt: e.Time, DispatchedAt: clockOf(s).Now().UTC(), Trace: h.Trace})
		if err := s.PublishTask(ctx, ActivityTaskKind, a.TaskQueue, t, activityMsgID(h.RunID, a.Seq, 1)); err != nil {
			return err
		}
	}
	if err := deriveScheduleToStart(ctx, s, h, a.Seq, 1, a.ActivityType, a.Options.ScheduleToStartTimeout, e.Time); err != nil {
		return err
	}
	return deriveScheduleToClose(ctx, s, h, e)
}

// deriveRetry stores the timer that runs a failed activity's next attempt,
// and that attempt's schedule-to-start timeout.
func deriveRetry(ctx context.Context, s Store, h BatchHeader, _ Event, a *ActivityAttemptFailed) error {
	if err := deriveScheduleToStart(ctx, s, h, a.Seq, a.Attempt+1, "", a.ScheduleToStart, a.NextAttempt); err != nil {
		return err
	}
	return wfTimer(ctx, s, h, fmt.Sprintf("retry%d", a.Attempt+1), a.Seq, a.NextAttempt, &inbound{Kind: inboundRetryDue, Seq: a.Seq, Attempt: a.Attempt + 1})
}

// deriveTimer stores a workflow timer.
func deriveTimer(ctx context.Context, s Store, h BatchHeader, _ Event, a *TimerStarted) error {
	return wfTimer(ctx, s, h, "timer", a.Seq, a.FireAt, &inbound{Kind: inboundTimerFired, Seq: a.Seq, FireAt: a.FireAt})
}

// deriveCancelNotice tells the worker running an activity to cancel it.
func deriveCancelNotice(ctx context.Context, s Store, h BatchHeader, _ Event, a *ActivityCancelRequested) error {
	n, _ := json.Marshal(cancelNotice{RunID: h.RunID, Seq: a.Seq})
	return s.PublishCancel(ctx, n)
}

// startContinuation starts the run that continues a closed one: the run
// record moves to the new run (compare-and-swap from the old one, so a
// redelivery is a no-op), then its first batch is appended.
func startContinuation(ctx context.Context, s Store, h BatchHeader, at time.Time, a *WorkflowContinuedAsNew) error {
	b := &Batch{Kind: BatchExternal, Events: []Event{{ID: 1, Type: EventWorkflowStarted, Time: at, Attrs: &WorkflowStarted{
		WorkflowID: h.WorkflowID, RunID: a.NewRunID, WorkflowType: a.WorkflowType, TaskQueue: h.TaskQueue, Input: a.Input, ContinuedFrom: h.RunID, Parent: a.Parent,
		ScheduledBy: a.ScheduledBy, ScheduledStartTime: a.ScheduledStartTime}}}}
	for i, sig := range a.Signals {
		b.Events = append(b.Events, Event{ID: int64(i + 2), Type: EventSignalReceived, Time: at, Attrs: &sig})
	}
	// carried signals are the new run's operator events: the engine signs
	// them for it
	if err := signEvents(s, a.NewRunID, b.Events); err != nil {
		return err
	}
	data, err := encodeBatch(b)
	if err != nil {
		return err
	}
	rec := RunRecord{RunID: a.NewRunID, CreatedAt: at, Start: data, StartHeader: headerFor(b, a.NewRunID, h.WorkflowID, h.TaskQueue)}
	rec.StartHeader.Trace = h.Trace // the new run's trace hangs under the task that continued it
	for range 10 {
		cur, rev, err := s.GetRun(ctx, h.WorkflowID)
		if err != nil {
			return fmt.Errorf("continuing %q: %w", h.WorkflowID, err)
		}
		switch cur.RunID {
		case h.RunID:
			// a conflict is another write to the old run's record (a
			// child's start marking it a parent): read it again
			if _, err := s.ReplaceRun(ctx, h.WorkflowID, rec, rev); errors.Is(err, ErrConflict) {
				continue
			} else if err != nil {
				return fmt.Errorf("continuing %q: %w", h.WorkflowID, err)
			}
		case a.NewRunID:
		default:
			return nil // the chain moved on already
		}
		return completeStart(ctx, s, rec)
	}
	return fmt.Errorf("continuing %q: %w", h.WorkflowID, ErrBusy)
}
