package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/foremanhq/foreman/internal/backoff"
)

// taskOutcome says how a delivery ends.
type taskOutcome struct {
	nak   bool
	delay time.Duration
}

var ackTask = taskOutcome{}

func nakAfter(d time.Duration) taskOutcome { return taskOutcome{nak: true, delay: d} }

func (w *Worker) finishDelivery(ctx context.Context, d Delivery, o taskOutcome) {
	var err error
	if o.nak {
		err = d.Nak(o.delay)
	} else {
		err = d.Ack(ctx)
	}
	if err != nil {
		w.log.Warn("ending task delivery failed; it will be redelivered", "err", err)
	}
}

// taskBackoff spaces retries of a failing workflow task so a poison run
// does not hot-loop: 1 s, 2 s, 4 s … up to a minute.
func taskBackoff(delivered uint64) time.Duration {
	return backoff.Policy{Initial: time.Second, Factor: 2, Max: time.Minute}.Delay(int(min(delivered, 64)))
}

func (w *Worker) handleWorkflowTask(ctx context.Context, d Delivery) {
	var t workflowTask
	if err := decodeTask(d.Data(), &t); err != nil || t.RunID == "" {
		w.log.Error("dropping malformed workflow task", "err", err, "data", truncate(string(d.Data()), 200))
		w.finishDelivery(ctx, d, ackTask)
		return
	}
	unlock := w.locks.lock(t.RunID)
	o := w.processWorkflowTask(ctx, &t, d.NumDelivered())
	unlock()
	w.finishDelivery(ctx, d, o)
}

// processWorkflowTask advances a run by one workflow task. On an
// optimistic-concurrency conflict (someone appended meanwhile) it starts
// over from history.
func (w *Worker) processWorkflowTask(ctx context.Context, t *workflowTask, delivered uint64) taskOutcome {
	return w.processWorkflowTaskWith(ctx, t, delivered, chainMemo{})
}

// processWorkflowTaskWith is processWorkflowTask with the outcomes of
// activities a chain ran for the task already (memo).
func (w *Worker) processWorkflowTaskWith(ctx context.Context, t *workflowTask, delivered uint64, memo chainMemo) taskOutcome {
	if in := t.Inbound; in != nil && in.Kind == inboundActivityTimeout && in.Failure != nil &&
		in.Failure.TimeoutType == "schedule_to_start" && w.attemptStarted(ctx, t.RunID, in.Seq, in.Attempt) {
		return ackTask // taken in time: the start-to-close deadline takes over
	}
	if w.closed.has(t.RunID) {
		return ackTask // closed here (worker_chain.go)
	}
	if len(t.First) == 0 && !w.cache.has(t.RunID) {
		// A closed run is not cached, so a task for it would replay its
		// whole history only to drop the task. After a long run was
		// terminated with work in flight, each late result replayed 50,000
		// events under the run's lock, and the worker's handlers queued on
		// that lock (~1 task/s for every run). One read of the last batch
		// tells instead.
		// An imported copy is never run: a stray task for one is dropped
		// before its history (no workflow task wrote it) is replayed.
		if last, err := w.store.LastBatch(ctx, t.RunID); err == nil && (last.Header.Closed || last.Header.Kind == BatchImported) {
			return ackTask
		}
	}
	var span trace.Span // the task's, once its run is loaded (worker_trace.go)
	var began time.Time
	if w.tracer != nil {
		began = time.Now()
		defer func() {
			if span != nil {
				span.End()
			}
		}()
	}
	for range 10 { // (memo: what a chain ran, for a retry after a conflict)
		env, current, err := w.loadRun(ctx, t)
		t.First = nil // a retry after a conflict reads the history
		if w.tracer != nil && span == nil {
			ctx, span = w.startWorkflowTaskSpan(ctx, env, t, delivered, began)
		}
		if err != nil {
			return w.taskFailed(ctx, t, err, delivered)
		}
		o, retry := w.advance(ctx, env, current, t, delivered, memo)
		if !retry {
			return o
		}
	}
	return nakAfter(100 * time.Millisecond)
}

// advance runs one task on a loaded state (current: just read up to the end
// of history); retry asks for a fresh load.
func (w *Worker) advance(ctx context.Context, env *workflowEnv, current bool, t *workflowTask, delivered uint64, memo chainMemo) (taskOutcome, bool) {
	keep := false
	defer func() {
		if keep {
			w.cache.put(t.RunID, env)
		} else {
			env.close()
		}
	}()
	if env.closed {
		return ackTask, false
	}
	now := latest(w.clock.Now().UTC(), env.lastEventTime)
	d := w.accept(env, t.Inbound, now)
	if !current && t.Inbound != nil && d.unchecked(env) {
		// A cached state may lag behind history: another worker may have
		// advanced the run since. A wake task carries the position of its
		// batch, which loadRun made sure the state covers; an inbound fact
		// carries none. Judged on a stale state, a result for an activity
		// it has not seen scheduled is dropped, and no append would fail to
		// reveal the mistake. Catch up with history (usually nothing to
		// read) and judge again.
		if err := w.applyHistory(ctx, env, t.RunID); err != nil {
			return taskOutcome{}, true // half-applied: dropped; the retry replays
		}
		if env.closed {
			return ackTask, false
		}
		d = w.accept(env, t.Inbound, now)
	}
	if d.wait > 0 {
		keep = true
		return nakAfter(d.wait), false
	}
	if env.pauses.paused() {
		// no code runs: what arrived is recorded, for the resume
		if len(d.events) == 0 {
			keep = true
			return ackTask, false
		}
		o, retry := w.recordWhilePaused(ctx, env, d.events, now)
		keep = !retry
		return o, retry
	}
	if d.dispatch != nil {
		if err := w.dispatchActivity(ctx, env, d.dispatch, now); err != nil {
			w.log.Warn("dispatching an activity retry failed", runArgs(t.WorkflowID, t.RunID, int(delivered), "err", err)...)
			keep = true
			return nakAfter(time.Second), false
		}
	}
	inbound := append(d.events, env.releases()...)
	if len(inbound) == 0 && !env.unprocessed {
		keep = true
		return ackTask, false
	}
	if env.lastEventID >= w.opts.HistoryLimit {
		return w.terminateOverLimit(ctx, env), false
	}
	batch, err := env.liveTask(inbound, now, w.opts.Identity)
	if err != nil {
		return w.taskFailed(ctx, t, err, delivered), false
	}
	if env.lastEventID >= min(HistoryWarnEvents, w.opts.HistoryLimit/2) {
		w.log.Warn("run history is large; it will be terminated at the limit", runArgs(t.WorkflowID, t.RunID, int(delivered), "events", env.lastEventID, "limit", w.opts.HistoryLimit)...)
	}
	if err := attestCommands(w.store, env.info.TaskQueue, batch.Events); err != nil {
		w.log.Warn("signing the task's commands failed; task will be retried", runArgs(t.WorkflowID, t.RunID, int(delivered), "err", err)...)
		return nakAfter(time.Second), false
	}
	batch, claims, err := w.chain(env, batch, now, memo, delivered)
	if err != nil {
		return w.taskFailed(ctx, t, err, delivered), false
	}
	data, h, err := w.sealTask(ctx, env, batch, claims)
	if err != nil {
		w.releaseEager(claims)
		return w.taskFailed(ctx, t, &taskError{code: CodeBadHistory, msg: err.Error()}, delivered), false
	}
	seq, err := w.store.AppendHistory(ctx, h, data, env.lastSeq, "")
	if err != nil {
		w.releaseEager(claims)
	}
	switch {
	case errors.Is(err, ErrConflict):
		return taskOutcome{}, true
	case errors.Is(err, ErrTooLarge):
		return w.taskFailed(ctx, t, &taskError{code: CodePayloadTooLarge,
			msg: fmt.Sprintf("the workflow task's new events are %d bytes, more than the store accepts", len(data))}, delivered), false
	case err != nil:
		w.log.Warn("appending history failed; task will be retried", runArgs(t.WorkflowID, t.RunID, int(delivered), "err", err)...)
		return nakAfter(500 * time.Millisecond), false
	}
	keep = !env.closed
	w.appended(ctx, env, batch, StoredBatch{Seq: seq, Header: h, Data: data}, now, claims)
	return ackTask, false
}

// sealTask encodes a workflow task's batch for env's run and writes its
// header, with the claims of the attempts this worker runs eagerly once it
// is appended (claimEager; release them if it is not).
func (w *Worker) sealTask(ctx context.Context, env *workflowEnv, batch *Batch, claims []*eagerRun) ([]byte, BatchHeader, error) {
	data, err := encodeBatch(batch)
	if err != nil {
		return nil, BatchHeader{}, err
	}
	h := headerFor(batch, env.info.RunID, env.info.WorkflowID, env.info.TaskQueue)
	h.Lone = h.Closed && env.lone()
	if h.Closed {
		h.Sum = BatchSum(data) // the waiters for its result may use a copy (client_results.go)
	}
	if w.tracer != nil {
		// the activities this task scheduled are its span's children
		h.Trace = traceparentOf(ctx)
		for _, c := range claims {
			c.task.Trace = h.Trace
		}
	}
	if h.Eager = w.eagerHeader(claims); h.Eager != "" && onlyEagerDerives(batch, claims) {
		h.Derive = false
	}
	return data, h, nil
}

// appended takes a workflow task's batch just appended (sb) into env, and
// starts what it claimed and dispatches.
func (w *Worker) appended(ctx context.Context, env *workflowEnv, batch *Batch, sb StoredBatch, now time.Time, claims []*eagerRun) {
	env.lastSeq = sb.Seq
	env.historyBytes += int64(len(sb.Data))
	if env.closed {
		w.closed.add(env.info.RunID)
		w.observeClosedHistory(env)
		local.closed(w.deployment, sb)
	} else if !staysHere(batch, claims) {
		local.left(w.deployment, env.info.RunID)
	}
	w.launchEager(claims)
	w.dispatchEagerly(ctx, env, batch, now, claims)
}

// dispatchEagerly publishes the activity tasks of a batch just appended
// that this worker does not run itself (claims), saving the dispatcher's
// hop on the hot path. The dispatcher still publishes them (it is the
// guarantee, should this worker die now); both use the same message id, so
// the store keeps one.
func (w *Worker) dispatchEagerly(ctx context.Context, env *workflowEnv, b *Batch, now time.Time, claims []*eagerRun) {
	if env.closed {
		return
	}
	for _, e := range b.Events {
		a, ok := e.Attrs.(*ActivityScheduled)
		if !ok || isEagerClaimed(claims, a.Seq) || a.Writer != nil && !a.Writer.Engine {
			continue // another queue's, signed by a user: the dispatcher checks the user may (cmdauth.go)
		}
		if st := env.activities[a.Seq]; st != nil && !st.done {
			if err := w.dispatchActivity(ctx, env, st, now); err != nil {
				return // the dispatcher will do it
			}
		}
	}
}

// newEnv returns an empty run state whose coroutines run on the worker's
// goroutines.
func (w *Worker) newEnv() *workflowEnv {
	env := newWorkflowEnv(w.reg, w.clock)
	env.sched.goroutines = w.pool
	return env
}

// loadRun returns the run's state up to date with history at least up to
// the task's HistorySeq: from the cache, or rebuilt by replaying the whole
// history. current tells whether it was just read up to the end of history
// (a cached state or a new run's carried start batch may lag behind it).
func (w *Worker) loadRun(ctx context.Context, t *workflowTask) (env *workflowEnv, current bool, err error) {
	runID, minSeq := t.RunID, t.HistorySeq
	if env := w.cache.take(runID); env != nil {
		if minSeq <= env.lastSeq {
			return env, false, nil
		}
		if err := w.applyHistory(ctx, env, runID); err == nil {
			return env, true, nil
		}
		env.close() // fall back to a full replay
	}
	env = w.newEnv()
	if len(t.First) > 0 {
		// a new run: its whole history is the batch the task carries (later
		// batches wake their own tasks; an append conflict reloads); one
		// holding forged operator events is read from history instead
		if b, err := DecodeBatch(t.First); err == nil && w.unscreened(ctx, t.RunID, b) && env.applyBatch(StoredBatch{Seq: minSeq, Data: t.First, Header: BatchHeader{FirstEventID: 1, Trace: t.Trace}}, b) == nil {
			return env, false, nil
		}
		env.close()
		env = w.newEnv()
	}
	if err := w.applyHistory(ctx, env, runID); err != nil {
		env.close()
		return nil, false, err
	}
	if env.lastSeq == 0 {
		env.close()
		return nil, false, fmt.Errorf("run %s has no history", runID)
	}
	return env, true, nil
}

// unscreened tells whether b holds no forged operator events (and the key
// could be read): else the run is replayed from history, which screens.
func (w *Worker) unscreened(ctx context.Context, runID string, b *Batch) bool {
	v, err := verifierOf(ctx, w.store)
	return err == nil && len(v.screen(runID, b)) == 0
}

func (w *Worker) applyHistory(ctx context.Context, env *workflowEnv, runID string) error {
	batches, err := w.store.ReadHistory(ctx, runID, env.lastSeq)
	if err != nil {
		return fmt.Errorf("reading history of %s: %w", runID, err)
	}
	v, err := verifierOf(ctx, w.store)
	if err != nil {
		return fmt.Errorf("reading history of %s: %w", runID, err)
	}
	for _, sb := range batches {
		b, err := DecodeBatch(sb.Data)
		if err != nil {
			return &taskError{code: CodeBadHistory, msg: fmt.Sprintf("batch %d: %v", sb.Seq, err)}
		}
		v.screen(runID, b) // forged operator events are not there (opauth.go)
		if err := env.applyBatch(sb, b); err != nil {
			return err
		}
	}
	return nil
}

// decision is what an inbound fact amounts to on a run's state: events to
// record, a wait (the fact is early: a timer not yet due), or an activity
// attempt to dispatch (a retry fell due); nothing at all when it is stale.
type decision struct {
	events   []Event
	wait     time.Duration
	dispatch *activityState
}

// unchecked tells whether the decision takes effect without an
// optimistic-concurrency check against history: dropping the fact, or
// dispatching an attempt, with nothing to append. (An append fails on a
// stale state; a wait is judged again when the fact comes back.)
func (d decision) unchecked(env *workflowEnv) bool {
	return d.wait == 0 && len(d.events) == 0 && !env.unprocessed || d.dispatch != nil
}

// accept judges an inbound fact against the run's state. It has no side
// effects, so a fact judged on a stale state can be judged again.
func (w *Worker) accept(env *workflowEnv, in *inbound, now time.Time) decision {
	if in == nil {
		return decision{}
	}
	switch in.Kind {
	case inboundActivityResult, inboundActivityTimeout:
		st := env.activities[in.Seq]
		if st == nil || st.done {
			return decision{}
		}
		attempt := in.Attempt
		if attempt == 0 { // a schedule-to-close timeout applies to whatever attempt runs
			attempt = st.attempt
		}
		if attempt != st.attempt {
			return decision{} // a late result of an older attempt
		}
		if in.Failure == nil {
			return decision{events: []Event{{Type: EventActivityCompleted, Attrs: &ActivityCompleted{Seq: in.Seq, Attempt: attempt, Result: in.Result}}}}
		}
		return decision{events: activityFailureEvents(st, attempt, in.Failure, now, w.opts.PauseOnRetriesExhausted)}
	case inboundTimerFired:
		st := env.timers[in.Seq]
		if st == nil || st.done {
			return decision{}
		}
		if early := st.fireAt.Sub(now); early > 0 {
			return decision{wait: early} // never fire before the due time
		}
		return decision{events: []Event{{Type: EventTimerFired, Attrs: &TimerFired{Seq: in.Seq}}}}
	case inboundApprovalTimeout:
		st := env.approvals[in.Seq]
		if st == nil || st.done {
			return decision{}
		}
		if early := st.requestedAt.Add(st.timeout).Sub(now); early > 0 {
			return decision{wait: early}
		}
		return decision{events: []Event{{Type: EventApprovalTimedOut, Attrs: &ApprovalTimedOut{Seq: in.Seq, Name: st.name}}}}
	case inboundRetryDue:
		st := env.activities[in.Seq]
		if st == nil || st.done || st.attempt != in.Attempt || st.dispatched || env.held[in.Seq] {
			return decision{} // stale, or released or held already
		}
		if early := st.nextAttempt.Sub(now); early > 0 {
			return decision{wait: early}
		}
		if env.pauses.paused() || st.paused {
			// held until the resume releases it (pause.go)
			return decision{events: []Event{{Type: EventActivityOperation, Attrs: &ActivityOperation{Seq: in.Seq, Op: activityOpHeld, Attempt: in.Attempt}}}}
		}
		return decision{dispatch: st}
	case inboundUpdate:
		return judgeUpdate(env, in)
	}
	if d, ok := acceptChild(env, in, now); ok {
		return d
	}
	w.log.Warn("dropping workflow task with unknown inbound kind", "kind", in.Kind)
	return decision{}
}

// activityFailureEvents apply the retry policy to a failed attempt: a
// retry, the activity's failure, or (attempts exhausted under a
// pause-on-exhaustion policy, or pauseDefault, the queue's) a dead letter
// that pauses the run. The policy counts attempts since an operator's
// reset (st.base).
func activityFailureEvents(st *activityState, attempt int, f *Failure, now time.Time, pauseDefault bool) []Event {
	seq := st.seq
	p := st.opts.RetryPolicy.normalized()
	counted := attempt - st.base
	final := f.TimeoutType == "schedule_to_close" || f.TimeoutType == "schedule_to_start" ||
		!p.retryable(f, counted)
	next := now.Add(p.backoff(counted))
	if s2c := st.opts.ScheduleToCloseTimeout; s2c > 0 && !next.Before(st.scheduledAt.Add(s2c)) {
		final = true
	}
	exhausted := final && p.MaximumAttempts > 0 && counted >= p.MaximumAttempts && f.TimeoutType == "" &&
		(p.PauseOnExhaustion || pauseDefault) && p.retryable(f, 0)
	switch {
	case exhausted:
		return []Event{
			{Type: EventActivityAttemptFailed, Attrs: &ActivityAttemptFailed{Seq: seq, Attempt: attempt, Failure: f, DeadLetter: true}},
			{Type: EventWorkflowPaused, Attrs: &WorkflowPaused{DeadLetter: true, Seq: seq, ActivityType: st.typ, Failure: f,
				Reason: fmt.Sprintf("activity %s ran out of attempts (%d)", st.typ, counted)}},
		}
	case final:
		return []Event{{Type: EventActivityFailed, Attrs: &ActivityFailed{Seq: seq, Attempt: attempt, Failure: f}}}
	}
	return []Event{{Type: EventActivityAttemptFailed, Attrs: &ActivityAttemptFailed{Seq: seq, Attempt: attempt, Failure: f, NextAttempt: next,
		ScheduleToStart: st.opts.ScheduleToStartTimeout}}}
}

// dispatchActivity publishes the task for an activity's current attempt.
func (w *Worker) dispatchActivity(ctx context.Context, env *workflowEnv, st *activityState, now time.Time) error {
	t := activityTask{RunID: env.info.RunID, WorkflowID: env.info.WorkflowID, WorkflowQueue: env.info.TaskQueue,
		Seq: st.seq, ActivityType: st.typ, Input: st.input, Options: st.opts, Attempt: st.attempt,
		ScheduledAt: st.scheduledAt, DispatchedAt: now}
	if w.tracer != nil {
		t.Trace = traceparentOf(ctx)
	}
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return w.store.PublishTask(ctx, ActivityTaskKind, st.opts.TaskQueue, data, activityMsgID(t.RunID, t.Seq, t.Attempt))
}

// taskFailed records a workflow-task failure once (not on every retry, so
// a poison run does not grow its history) and hands the task back with
// backoff.
func (w *Worker) taskFailed(ctx context.Context, t *workflowTask, err error, delivered uint64) taskOutcome {
	runID := t.RunID
	te := &taskError{}
	var nd *NonDeterminismError
	switch {
	case errors.As(err, &nd):
		te = &taskError{code: CodeNonDeterminism, msg: nd.Error()}
	case errors.As(err, &te):
	default:
		w.log.Warn("workflow task could not load its run; retrying", runArgs(t.WorkflowID, runID, int(delivered), "err", err)...)
		return nakAfter(taskBackoff(delivered))
	}
	w.log.Error("workflow task failed", runArgs(t.WorkflowID, runID, int(delivered), "code", te.code, "err", te.msg)...)
	if w.tracer != nil {
		spanFailed(ctx, te)
	}
	last, lerr := w.store.LastBatch(ctx, runID)
	if lerr != nil {
		return nakAfter(taskBackoff(delivered))
	}
	if b, derr := DecodeBatch(last.Data); derr == nil && len(b.Events) > 0 {
		if f, ok := b.Events[len(b.Events)-1].Attrs.(*WorkflowTaskFailed); ok && f.Code == te.code && f.Message == te.msg {
			return nakAfter(taskBackoff(delivered))
		}
	}
	if last.Header.Closed {
		return ackTask
	}
	fail := &Batch{Kind: BatchTask, Events: []Event{{ID: last.Header.LastEventID + 1, Type: EventWorkflowTaskFailed, Time: w.clock.Now().UTC(),
		Attrs: &WorkflowTaskFailed{Code: te.code, Message: te.msg, Stack: truncate(te.stack, 4000), Identity: w.opts.Identity, Attempt: int(delivered)}}}}
	data, _ := encodeBatch(fail)
	h := headerFor(fail, runID, last.Header.WorkflowID, last.Header.TaskQueue)
	if _, err := w.store.AppendHistory(ctx, h, data, last.Seq, ""); err != nil && !errors.Is(err, ErrConflict) {
		w.log.Warn("recording workflow task failure failed", runArgs(t.WorkflowID, runID, int(delivered), "err", err)...)
	}
	return nakAfter(taskBackoff(delivered))
}

// terminateOverLimit ends a run whose history reached HistoryLimit.
func (w *Worker) terminateOverLimit(ctx context.Context, env *workflowEnv) taskOutcome {
	b := &Batch{Kind: BatchExternal, Events: []Event{{ID: env.lastEventID + 1, Type: EventWorkflowTerminated, Time: w.clock.Now().UTC(),
		Attrs: &WorkflowTerminated{Reason: fmt.Sprintf("[%s] history reached %d events, the limit", CodeHistoryTooLarge, w.opts.HistoryLimit), Identity: w.opts.Identity}}}}
	data, _ := encodeBatch(b)
	h := headerFor(b, env.info.RunID, env.info.WorkflowID, env.info.TaskQueue)
	h.Lone = env.lone()
	if _, err := w.store.AppendHistory(ctx, h, data, env.lastSeq, ""); err != nil && !errors.Is(err, ErrConflict) {
		return nakAfter(time.Second)
	}
	return ackTask
}

// queryRequest and queryResponse travel on the store's bus.
type queryRequest struct {
	RunID string          `json:"run_id"`
	Name  string          `json:"name"`
	Args  json.RawMessage `json:"args,omitempty"`
	// Update, when set, makes the request an update (worker_update.go).
	Update *updateRequest `json:"update,omitempty"`
}

type queryResponse struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	Code   string          `json:"code,omitempty"` // "unknown_query" | "not_found" | "failed"
}

// queryConsistencyWait bounds how long a query waits for the run's
// workflow task to process inputs acknowledged before the query came; it is
// below the requester's default timeout so the refusal reaches them.
const queryConsistencyWait = 4 * time.Second

// serveQuery answers a query from the run's current state, within the
// requester's time (ctx) and at most queryConsistencyWait.
func (w *Worker) serveQuery(ctx context.Context, data []byte) []byte {
	var req queryRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return mustJSON(queryResponse{Error: "malformed query request: " + err.Error(), Code: "failed"})
	}
	if req.Update != nil { // updates ride the query bus (worker_update.go)
		return w.serveUpdate(ctx, req.Update)
	}
	// The wait has its own deadline; reads keep the requester's, so one
	// that straddles the wait's end still answers or explains, rather
	// than failing with a bare deadline error.
	waitCtx, cancel := context.WithTimeout(ctx, queryConsistencyWait)
	defer cancel()
	// Linearizable with signals: an input acknowledged to its sender is in
	// history, but the handler must see what the workflow code made of it.
	// Until the run's workflow task has processed every input, wait (the
	// lock is released meanwhile, so this worker can run that task). The
	// built-in queries describe the run as it is, so they answer at once:
	// an operator asks __stack precisely of runs that do not progress.
	poll := backoff.Loop{Policy: backoff.Policy{Initial: time.Millisecond, Factor: 2, Max: 50 * time.Millisecond}}
	for {
		resp, done := w.answerQuery(ctx, &req)
		if done {
			return resp
		}
		if !poll.Wait(waitCtx) {
			return mustJSON(queryResponse{Code: "failed", Error: fmt.Sprintf(
				"query %q on run %s: the run has inputs (signals, decisions, its start) that its workflow task has not processed within %s; an answer now would not reflect them (is the workflow task failing? see its history)",
				req.Name, req.RunID, queryConsistencyWait)})
		}
	}
}

// answerQuery answers req from the run's current state, or reports done =
// false when that state has inputs the workflow code has not processed yet.
func (w *Worker) answerQuery(ctx context.Context, req *queryRequest) (resp []byte, done bool) {
	unlock := w.locks.lock(req.RunID)
	defer unlock()
	env, _, err := w.loadRun(ctx, &workflowTask{RunID: req.RunID})
	if err != nil {
		return mustJSON(queryResponse{Error: err.Error(), Code: "failed"}), true
	}
	if err := w.applyHistory(ctx, env, req.RunID); err != nil { // answer from the current state
		env.close() // half-applied: not fit to cache
		return mustJSON(queryResponse{Error: err.Error(), Code: "failed"}), true
	}
	defer w.cache.put(req.RunID, env)
	if env.unprocessed && !env.closed && !env.pauses.paused() && req.Name != QueryStack && req.Name != QueryPending && req.Name != QueryHandlers {
		return nil, false
	}
	res, err := env.runQuery(req.Name, req.Args)
	if err != nil {
		code := "failed"
		if errors.Is(err, ErrUnknownQuery) {
			code = "unknown_query"
		}
		return mustJSON(queryResponse{Error: err.Error(), Code: code}), true
	}
	return mustJSON(queryResponse{Result: res}), true
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
