package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foremanhq/foreman/engine/internal/clock"
)

// ActivityInfo describes the running activity attempt.
type ActivityInfo struct {
	WorkflowID   string
	RunID        string
	ActivityType string
	Seq          int64
	Attempt      int
	ScheduledAt  time.Time
}

type activityKey struct{}

// activityRun is the state of one attempt, reachable from its context.
type activityRun struct {
	w         *Worker
	info      ActivityInfo
	task      *activityTask
	hbTimeout time.Duration
	cancel    context.CancelCauseFunc

	// finished is set when the attempt's outcome is decided: a heartbeat
	// of an abandoned function (past its deadline) is refused.
	finished atomic.Bool
	// paused: the run or the activity was paused meanwhile (ActivityPaused).
	paused atomic.Bool

	mu        sync.Mutex
	prev      json.RawMessage // the newest heartbeat details (of this or an earlier attempt)
	lastWrite time.Time
	flush     clock.Timer // a throttled write waiting to happen
}

// GetActivityInfo describes the attempt running under ctx.
func GetActivityInfo(ctx context.Context) ActivityInfo {
	if r, ok := ctx.Value(activityKey{}).(*activityRun); ok {
		return r.info
	}
	return ActivityInfo{}
}

// RecordHeartbeat tells the engine the attempt is alive and stores details
// (progress) that the next attempt can read with GetHeartbeatDetails. Writes
// are throttled to a third of the heartbeat timeout. It returns the
// context's error once the attempt is cancelled.
func RecordHeartbeat(ctx context.Context, details any) error {
	r, ok := ctx.Value(activityKey{}).(*activityRun)
	if !ok {
		return errors.New("engine: RecordHeartbeat called outside an activity")
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("encoding heartbeat details: %w", err)
	}
	r.mu.Lock()
	r.prev = raw
	throttle := time.Second
	if r.hbTimeout > 0 {
		throttle = min(r.hbTimeout/3, time.Second)
	}
	wait := throttle - clock.Since(r.w.clock, r.lastWrite)
	if wait > 0 { // throttled: write the newest details a little later
		if r.flush == nil {
			r.flush = r.w.clock.AfterFunc(wait, func() {
				r.mu.Lock()
				r.flush = nil
				r.mu.Unlock()
				_ = r.heartbeat(ctx)
			})
		}
		r.mu.Unlock()
		return context.Cause(ctx)
	}
	r.mu.Unlock()
	if err := r.heartbeat(ctx); err != nil {
		return err
	}
	return context.Cause(ctx)
}

// heartbeat writes the newest details, unless a newer attempt of the same
// activity already runs: then this attempt is stale and is cancelled.
func (r *activityRun) heartbeat(ctx context.Context) error {
	if r.finished.Load() {
		return nil // the attempt is decided; nothing it reports counts now
	}
	if r.staleAgainst(ctx) {
		r.cancel(ErrCanceled)
		return nil
	}
	return r.writeHeartbeat(ctx, r.hbTimeout)
}

// staleAgainst tells whether the stored heartbeat belongs to a newer attempt.
func (r *activityRun) staleAgainst(ctx context.Context) bool {
	data, err := r.w.store.GetHeartbeat(context.WithoutCancel(ctx), heartbeatKey(r.info.RunID, r.info.Seq))
	if err != nil {
		return false
	}
	var rec heartbeatRecord
	return json.Unmarshal(data, &rec) == nil && rec.Attempt > r.info.Attempt
}

// GetHeartbeatDetails reads the details of the last heartbeat recorded for
// this activity (by this or an earlier attempt); false if there are none.
func GetHeartbeatDetails(ctx context.Context, valuePtr any) bool {
	r, ok := ctx.Value(activityKey{}).(*activityRun)
	if !ok || len(r.prev) == 0 || string(r.prev) == "null" {
		return false
	}
	return json.Unmarshal(r.prev, valuePtr) == nil
}

func (r *activityRun) writeHeartbeat(ctx context.Context, timeout time.Duration) error {
	r.mu.Lock()
	r.lastWrite = r.w.clock.Now()
	rec := heartbeatRecord{RunID: r.info.RunID, WorkflowID: r.info.WorkflowID, WorkflowQueue: r.task.WorkflowQueue,
		Seq: r.info.Seq, Attempt: r.info.Attempt, At: r.lastWrite.UTC(), Timeout: timeout, Details: r.prev}
	r.mu.Unlock()
	data, _ := json.Marshal(rec)
	ctx = context.WithoutCancel(ctx)
	return r.w.store.PutHeartbeat(ctx, heartbeatKey(r.info.RunID, r.info.Seq), data)
}

// cancelNotice is broadcast when a workflow cancels an activity.
type cancelNotice struct {
	RunID string `json:"run_id"`
	Seq   int64  `json:"seq"`
	// Pause, when set, says the run (Seq 0) or the activity was paused
	// or resumed: nothing is cancelled (ActivityPaused tells the attempt).
	Pause *bool `json:"pause,omitempty"`
}

func (w *Worker) onCancelNotice(data []byte) {
	var n cancelNotice
	if json.Unmarshal(data, &n) != nil {
		return
	}
	if n.Pause != nil {
		w.onPauseNotice(n)
		return
	}
	w.mu.Lock()
	c := w.running[heartbeatKey(n.RunID, n.Seq)]
	w.mu.Unlock()
	if c != nil {
		c(ErrCanceled)
	}
}

func (w *Worker) handleActivityTask(ctx context.Context, d Delivery) {
	var t activityTask
	if err := decodeTask(d.Data(), &t); err != nil || t.RunID == "" {
		w.log.Error("dropping malformed activity task", "err", err)
		w.finishDelivery(ctx, d, ackTask)
		return
	}
	if t.Eager != "" {
		notMeasured(ctx)
		w.handleGuard(ctx, d, &t)
		return
	}
	taken(ctx)
	var out attemptOutcome
	if d.NumDelivered() > 1 {
		if !w.attemptStillCurrent(ctx, &t) {
			w.finishDelivery(ctx, d, ackTask) // an attempt that was already decided
			return
		}
		// The task came back: the worker it was delivered to stopped
		// extending its lease (it died, hung or lost the server) or handed
		// it back. That execution is over for the engine: it is recorded
		// as a failed attempt and the retry policy decides, so every
		// execution has its own attempt number and a late result of the
		// lost one is refused.
		out = attemptOutcome{failure: &Failure{Type: FailureWorkerLost, Message: fmt.Sprintf(
			"attempt %d of activity %s was delivered %d times: the worker running it stopped without reporting (died, hung, or was stopped)",
			t.Attempt, t.ActivityType, d.NumDelivered()-1)}}
	} else {
		// Eager attempts share the slots: wait for one with the lease kept.
		stop := keepInProgress(d)
		w.actSlots <- struct{}{}
		out = w.runAttempt(ctx, &t, false, nil)
		<-w.actSlots
		stop()
	}
	w.finishAttempt(ctx, d, &t, out)
}

// finishAttempt saves an attempt's outcome, then ends its task's delivery.
func (w *Worker) finishAttempt(ctx context.Context, d Delivery, t *activityTask, out attemptOutcome) {
	if out.canceled { // the workflow moved on; a late result would be dropped anyway
		w.finishDelivery(ctx, d, ackTask)
		return
	}
	// An outcome is reported even while the worker stops (an interrupted
	// attempt's is WorkerStopped): otherwise it comes back as WorkerLost.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// The outcome is saved before the activity task is acknowledged: a
	// crash in between re-runs the attempt, and the duplicate outcome is
	// deduplicated or dropped as stale.
	if !w.saveOutcome(ctx, t, out) {
		w.finishDelivery(ctx, d, nakAfter(time.Second))
		return
	}
	w.finishDelivery(ctx, d, ackTask)
}

// saveOutcome hands an attempt's outcome to its run (reportLocally), or
// stores it as a workflow task; false if neither worked.
func (w *Worker) saveOutcome(ctx context.Context, t *activityTask, out attemptOutcome) bool {
	saved, _ := w.saveOutcomeWhere(ctx, t, out)
	return saved
}

// saveOutcomeWhere is saveOutcome; inHistory tells that the run took the
// outcome in here (its attempt is decided in history now).
func (w *Worker) saveOutcomeWhere(ctx context.Context, t *activityTask, out attemptOutcome) (saved, inHistory bool) {
	if out.failure != nil {
		w.logAttemptFailed(t, out.failure)
	}
	in := &inbound{Kind: inboundActivityResult, Seq: t.Seq, Attempt: t.Attempt, Result: out.result, Failure: out.failure}
	wt := workflowTask{RunID: t.RunID, WorkflowID: t.WorkflowID, Inbound: in}
	if w.reportLocally(ctx, &wt, t.WorkflowQueue) {
		return true, true
	}
	local.left(w.deployment, t.RunID) // the outcome goes through the server
	task, _ := json.Marshal(wt)
	if err := w.store.PublishTask(ctx, WorkflowTaskKind, t.WorkflowQueue, task, resultMsgID(t.RunID, t.Seq, t.Attempt)); err != nil {
		w.log.Warn("reporting activity outcome failed; attempt will be redelivered", runArgs(t.WorkflowID, t.RunID, t.Attempt, "activity_type", t.ActivityType, "err", err)...)
		return false, false
	}
	return true, false
}

// reportLocally hands an activity's outcome straight to its run when this
// worker runs the workflow tasks of the run's queue and holds the run's
// state: the result task would be stored and delivered, a hop each way
// through the server, most likely back to this very worker. The outcome is
// saved once the workflow task's append succeeds, still before the
// activity task is acknowledged: the guarantee of the published task. Any
// other ending (the run's state is elsewhere or in use, an early fact, a
// failing workflow task) falls back to publishing, which is harmless after
// a partial attempt: outcomes are deduplicated against history.
func (w *Worker) reportLocally(ctx context.Context, t *workflowTask, workflowQueue string) bool {
	if workflowQueue != w.queue || len(w.reg.workflows) == 0 {
		return false
	}
	// The lock first: the workflow task that dispatched this activity may
	// still hold the run's state, and caches it when done.
	unlock := w.locks.lock(t.RunID)
	defer unlock()
	if !w.cache.has(t.RunID) {
		return false
	}
	defer w.observeLocalWorkflowTask(time.Now())
	return w.processWorkflowTask(ctx, t, 1) == ackTask
}

// attemptOutcome is what an attempt ended with: a result or failure to
// report; or nothing, when it was cancelled.
type attemptOutcome struct {
	result   json.RawMessage
	failure  *Failure
	canceled bool
}

// attempt runs one attempt of an activity (runAttempt, worker_trace.go,
// traces it); redelivered says its task was delivered before, and
// inProgress (if set) keeps the task's lease while the function runs.
func (w *Worker) attempt(ctx context.Context, t *activityTask, redelivered bool, inProgress func() (stop func())) attemptOutcome {
	fi, ok := w.reg.activity(t.ActivityType)
	if !ok {
		return attemptOutcome{failure: &Failure{Type: CodeUnknownActivity, Message: fmt.Sprintf("[%s] activity type %q is not registered on the worker of queue %s (registered: %s)",
			CodeUnknownActivity, t.ActivityType, w.queue, w.reg.activityNames())}}
	}
	now := w.clock.Now()
	if s2s := t.Options.ScheduleToStartTimeout; s2s > 0 && now.Sub(t.DispatchedAt) > s2s {
		return attemptOutcome{failure: &Failure{Type: "TimeoutError", Message: fmt.Sprintf("not started within %s", s2s), TimeoutType: "schedule_to_start"}}
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	deadline := time.Time{}
	if s := t.Options.StartToCloseTimeout; s > 0 {
		deadline = now.Add(s)
	}
	if s := t.Options.ScheduleToCloseTimeout; s > 0 {
		if d := t.ScheduledAt.Add(s); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if !deadline.IsZero() {
		var c2 context.CancelFunc
		actx, c2 = clock.WithDeadline(w.clock, actx, deadline)
		defer c2()
	}
	run := &activityRun{w: w, task: t, hbTimeout: t.Options.HeartbeatTimeout, cancel: cancel,
		info: ActivityInfo{WorkflowID: t.WorkflowID, RunID: t.RunID, ActivityType: t.ActivityType, Seq: t.Seq, Attempt: t.Attempt, ScheduledAt: t.ScheduledAt}}
	key := heartbeatKey(t.RunID, t.Seq)
	// Details exist only if an earlier attempt, or an earlier delivery of
	// this one (a worker that died or handed it back), heartbeated.
	if t.Attempt > 1 || t.Options.HeartbeatTimeout > 0 || redelivered {
		if data, err := w.store.GetHeartbeat(ctx, key); err == nil {
			var rec heartbeatRecord
			if json.Unmarshal(data, &rec) == nil {
				run.prev = rec.Details
			}
		}
	}
	// The start record: it starts the heartbeat clock, so a worker that
	// dies now is noticed, and tells the engine's schedule-to-start timer
	// that the attempt was taken.
	if run.hbTimeout > 0 || t.Options.ScheduleToStartTimeout > 0 {
		if err := run.writeHeartbeat(ctx, run.hbTimeout); err != nil {
			w.log.Warn("writing initial heartbeat failed", runArgs(t.WorkflowID, t.RunID, t.Attempt, "activity_type", t.ActivityType, "err", err)...)
		}
	}
	actx = context.WithValue(actx, activityKey{}, run)
	if w.clock != clock.Wall {
		actx = clock.NewContext(actx, w.clock) // a test clock, for enginetest.WaitForTimeout
	}
	w.mu.Lock()
	w.running[key] = cancel
	w.attempts[key] = run
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, key)
		delete(w.attempts, key)
		w.mu.Unlock()
	}()
	stopProgress := func() {}
	if inProgress != nil {
		stopProgress = inProgress()
	}
	began := time.Now()
	result, err, late := callBefore(actx, w.clock, fi, t.Input, deadline)
	noteQuickness(fi, time.Since(began))
	stopProgress()
	run.finished.Store(true) // a heartbeat from now on is refused

	var failure *Failure
	cause := context.Cause(actx)
	switch {
	case late:
		// The deadline decides, not what the function returned: a success
		// after it is a timeout (the engine may already have retried), and
		// a function that never returns gives its slot back at it.
		tt := "start_to_close"
		if s := t.Options.ScheduleToCloseTimeout; s > 0 && !w.clock.Now().Before(t.ScheduledAt.Add(s)) {
			tt = "schedule_to_close"
		}
		failure = &Failure{Type: "TimeoutError", Message: fmt.Sprintf("activity %s attempt %d did not finish within its deadline", t.ActivityType, t.Attempt), TimeoutType: tt}
	case errors.Is(cause, errWorkerStopping):
		// Handed back: this execution ends here. The newest details are
		// kept for the next attempt, which resumes from them.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		w.settleHeartbeat(sctx, run, false)
		cancel()
		return attemptOutcome{failure: &Failure{Type: FailureWorkerStopped, Message: fmt.Sprintf(
			"attempt %d of activity %s was interrupted: its worker stopped", t.Attempt, t.ActivityType)}}
	case errors.Is(cause, ErrCanceled):
		return attemptOutcome{canceled: true}
	case err != nil:
		failure = FailureFrom(err)
	}
	if failure == nil {
		if _, perr := checkPayload(result, "result of activity "+t.ActivityType); perr != nil {
			failure = FailureFrom(perr)
			result = nil
		}
	}
	w.settleHeartbeat(ctx, run, failure == nil)
	return attemptOutcome{result: result, failure: failure}
}

// settleHeartbeat ends the heartbeat clock of a finished attempt: the record
// is deleted on success, kept (with its details, for the next attempt) and
// disarmed on failure.
func (w *Worker) settleHeartbeat(ctx context.Context, run *activityRun, ok bool) {
	run.mu.Lock()
	if run.flush != nil {
		run.flush.Stop()
		run.flush = nil
	}
	wrote := !run.lastWrite.IsZero()
	run.mu.Unlock()
	if !wrote || run.staleAgainst(ctx) {
		return // nothing written, or a newer attempt owns the record now
	}
	if ok {
		_ = w.store.DeleteHeartbeat(ctx, heartbeatKey(run.info.RunID, run.info.Seq))
		return
	}
	_ = run.writeHeartbeat(ctx, 0)
}

// callBefore runs the activity function and waits for it until deadline
// (none if zero). late reports that the deadline passed first, or that the
// function returned after it; the function is then abandoned (Go cannot
// stop a goroutine), its context cancelled and its result discarded.
func callBefore(ctx context.Context, clk clock.Clock, fi *funcInfo, input json.RawMessage, deadline time.Time) (res json.RawMessage, err error, late bool) {
	if deadline.IsZero() {
		res, err = callActivity(ctx, fi, input)
		return res, err, false
	}
	type outcome struct {
		res json.RawMessage
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, e := callActivity(ctx, fi, input)
		done <- outcome{r, e}
	}()
	expired := make(chan struct{})
	timer := clk.AfterFunc(clock.Until(clk, deadline), func() { close(expired) })
	defer timer.Stop()
	ctxDone := ctx.Done()
	for {
		select {
		case o := <-done:
			return o.res, o.err, !clk.Now().Before(deadline)
		case <-expired:
			return nil, nil, true
		case <-ctxDone:
			// A cancelled attempt gives its slot back at once even if the
			// function ignores its context: its result would be dropped.
			// A stopping worker still waits (for the newest heartbeat
			// details), up to the deadline.
			if cause := context.Cause(ctx); errors.Is(cause, ErrCanceled) {
				return nil, cause, false
			}
			ctxDone = nil
		}
	}
}

func callActivity(ctx context.Context, fi *funcInfo, input json.RawMessage) (res json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &ApplicationError{Type: CodeActivityPanic, Message: fmt.Sprintf("[%s] activity %s panicked: %v\n%s", CodeActivityPanic, fi.name, r, truncate(string(debug.Stack()), 2000))}
		}
	}()
	return fi.call(ctx, input)
}

// keepInProgress tells the store, while an attempt runs, that its task is
// still being worked on, so it is redelivered only if this worker dies.
func keepInProgress(d Delivery) (stop func()) {
	done := make(chan struct{})
	go func() {
		every := 10 * time.Second
		if w := d.AckWait(); w > 0 {
			every = min(every, w/3)
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = d.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// attemptStillCurrent checks a redelivered activity task against history,
// so an attempt that was already decided (timed out and retried, cancelled,
// completed) is not run again.
func (w *Worker) attemptStillCurrent(ctx context.Context, t *activityTask) bool {
	events, err := readEvents(ctx, w.store, t.RunID)
	if err != nil {
		return true // when in doubt run it; a stale outcome is dropped later
	}
	x := Summarize(events)
	for _, p := range x.Activities {
		if p.Seq == t.Seq {
			return p.Attempt == t.Attempt
		}
	}
	return false
}

// attemptStarted tells whether a worker took the attempt (its start
// record, written before the function runs, is there), for judging a
// schedule-to-start timeout. In doubt (the record cannot be read) it says
// no: the timeout is then recorded, and the attempt's result is refused.
func (w *Worker) attemptStarted(ctx context.Context, runID string, seq int64, attempt int) bool {
	data, err := w.store.GetHeartbeat(ctx, heartbeatKey(runID, seq))
	if err != nil {
		return false
	}
	var rec heartbeatRecord
	return json.Unmarshal(data, &rec) == nil && rec.Attempt >= attempt
}
