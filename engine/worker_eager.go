package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Eager activities. A worker that completes a workflow task scheduling an
// activity on a queue it serves runs the first attempt itself, at once:
// the activity task would travel to the server and back, most likely to
// this very worker, a round trip per activity for a worker in its own
// process. The attempt is claimed in the batch's header (Fm-Eager: this
// worker instance's token and the seqs it runs) before the append, so the
// claim is as durable as the ActivityScheduled event.
//
// The dispatcher still watches the attempt: it holds the claiming batch
// unacknowledged until a later batch settles the attempt, usually within
// milliseconds, and then nothing more is needed. Only if that takes longer
// (ServicesOptions.EagerGuardDelay, dispatcher_hold.go) does it store the
// attempt's activity task, marked with the owner's token: a guard of the
// attempt. Delivered to the owner, the guard is adopted (kept in progress
// while the attempt runs, acknowledged once its outcome is saved).
// Delivered to another worker, that worker asks the owner (a request to
// the owner instance's subject): while it runs the attempt, the guard is
// handed back for later; once the owner has saved the outcome, it is
// acknowledged (an owner that no longer knows the attempt has the guard
// checked against history). When the owner is gone (no responders:
// it died, and with it its connection) or does not know the attempt (its
// append's answer was lost), the attempt is recorded lost (WorkerLost) and
// the retry policy decides, as for a task whose worker died. So an attempt
// never runs twice at once, and a crash loses none.

// eagerRecheck is how long a guard whose owner still runs the attempt
// waits before it is looked at again.
const eagerRecheck = 2 * time.Second

// eagerForget is how long a finished attempt's record waits for its guard,
// when its outcome was stored as a task rather than put in history here
// (then the record goes at once: a late guard finds the attempt decided
// in history).
const eagerForget = 10 * time.Minute

// workerBus is what a Store needs for eager activities (jetstream.Store
// has it): requests addressed to one worker instance.
type workerBus interface {
	ServeWorker(queue, token string, handler func(req []byte) []byte) (stop func(), err error)
	AskWorker(ctx context.Context, queue, token string, req []byte) ([]byte, error)
}

// eagerRun is one attempt this worker runs eagerly.
type eagerRun struct {
	task activityTask

	mu        sync.Mutex
	started   bool           // its append landed: the attempt runs
	abandoned bool           // its append failed (or may have): it never runs
	finished  time.Time      // when it ended (zero while it runs)
	saved     bool           // its outcome is in history, or stored as a result task
	out       attemptOutcome // what it ended with
	guards    []Delivery     // its guard task, delivered here meanwhile
	stops     []func()       // the guards' in-progress tickers

	// A speculative attempt (worker_chain.go) runs before its batch is
	// appended: it offers its outcome on spec and is then told on verdict
	// what became of it; cancel stops it when its batch is not appended.
	spec    chan attemptOutcome
	verdict chan eagerVerdict
	cancel  context.CancelCauseFunc
}

// eagerVerdict is what became of a speculative attempt's batch.
type eagerVerdict int8

const (
	verdictTaken     eagerVerdict = iota // its outcome is in the batch: nothing to save
	verdictAppended                      // the batch claiming it landed: an eager attempt as any
	verdictAbandoned                     // the batch was not appended (or may not have been)
)

// eagerState is a worker's eager attempts.
type eagerState struct {
	bus   workerBus // nil: eager execution is off
	token string    // this worker instance, unique
	// stop ends serving the owner's subject: after the attempts ended, so
	// that a stopping owner is not taken for a dead one.
	stop func()

	mu        sync.Mutex
	runs      map[string]*eagerRun // by activityMsgID
	lastSweep time.Time
}

func newEagerToken() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startEager turns eager execution on when the worker runs both the
// workflows and the activities of its queue and its store can address a
// worker instance.
func (w *Worker) startEager() {
	bus, ok := w.store.(workerBus)
	if !ok || len(w.reg.workflows) == 0 || len(w.reg.activities) == 0 {
		return
	}
	stop, err := bus.ServeWorker(w.queue, w.eager.token, w.answerOwnerQuery)
	if err != nil {
		w.log.Warn("eager activities off: cannot serve this worker's subject", "err", err)
		return
	}
	// Others must reach this worker while it runs an attempt, or they
	// would take it for dead: ask itself once (credentials may lack the
	// subject, and a refused subscription does not fail at once).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err = bus.AskWorker(ctx, w.queue, w.eager.token, mustJSON(ownerQuery{}))
	cancel()
	if err != nil {
		stop()
		w.log.Warn("eager activities off: this worker cannot be reached on its own subject", "err", err)
		return
	}
	w.eager.stop = stop
	w.eager.runs = map[string]*eagerRun{}
	w.eager.bus = bus
}

// encodeEager and eagerOwner write and read a batch's eager claim.
func encodeEager(token string, seqs []int64) string {
	return token + ":" + encodeSeqs(seqs)
}

// encodeSeqs writes seqs comma-separated (a claim's list, Settles).
func encodeSeqs(seqs []int64) string {
	parts := make([]string, len(seqs))
	for i, s := range seqs {
		parts[i] = strconv.FormatInt(s, 10)
	}
	return strings.Join(parts, ",")
}

// parseSeqs reads encodeSeqs back; false if list is malformed.
func parseSeqs(list string) (seqs []int64, ok bool) {
	for s := range strings.SplitSeq(list, ",") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, false
		}
		seqs = append(seqs, n)
	}
	return seqs, true
}

// parseEager reads a claim back: the owner's token and the seqs it runs
// (none if the claim is empty or malformed).
func parseEager(claim string) (token string, seqs []int64) {
	token, list, ok := strings.Cut(claim, ":")
	if !ok || token == "" {
		return "", nil
	}
	if seqs, ok = parseSeqs(list); !ok {
		return "", nil
	}
	return token, seqs
}

// eagerOwner returns the token of the worker that claimed activity seq in
// a batch, or "".
func eagerOwner(h BatchHeader, seq int64) string {
	token, seqs := parseEager(h.Eager)
	if slices.Contains(seqs, seq) {
		return token
	}
	return ""
}

// onlyEagerDerives tells whether the eager attempts' guards are all a
// batch implies: the dispatcher publishes those from the header, and need
// not decode the batch (Derive off). Timeouts the engine keeps (schedule
// to start, schedule to close) still need it. An activity the batch both
// schedules and completes (a chained attempt, worker_chain.go) implies
// nothing.
func onlyEagerDerives(b *Batch, claims []*eagerRun) bool {
	chained := chainedActivities(b)
	for _, e := range b.Events {
		if !derivesFrom(e) {
			continue
		}
		a, ok := e.Attrs.(*ActivityScheduled)
		if !ok || !isEagerClaimed(claims, a.Seq) && !chained[a.Seq] || a.Options.ScheduleToStartTimeout > 0 || a.Options.ScheduleToCloseTimeout > 0 {
			return false
		}
	}
	return true
}

// claimEager registers the attempts of batch that this worker will run
// eagerly once the batch is appended, each with a slot; release or start
// them after the append.
func (w *Worker) claimEager(env *workflowEnv, b *Batch, now time.Time) []*eagerRun {
	if w.eager.bus == nil || env.closed || env.info.TaskQueue != w.queue || w.stopping.Load() {
		return nil
	}
	var claims []*eagerRun
	for _, e := range b.Events {
		a, ok := e.Attrs.(*ActivityScheduled)
		if !ok || a.TaskQueue != w.queue {
			continue
		}
		st := env.activities[a.Seq]
		if st == nil || st.done || st.attempt != 1 {
			continue
		}
		if _, ok := w.reg.activity(a.ActivityType); !ok {
			continue // the guard task finds a worker that has it
		}
		select {
		case w.actSlots <- struct{}{}:
		default:
			return claims // busy: the rest go through the queue
		}
		claims = append(claims, &eagerRun{task: activityTask{RunID: env.info.RunID, WorkflowID: env.info.WorkflowID,
			WorkflowQueue: env.info.TaskQueue, Seq: st.seq, ActivityType: st.typ, Input: st.input, Options: st.opts,
			Attempt: 1, ScheduledAt: st.scheduledAt, DispatchedAt: now, Eager: w.eager.token}})
	}
	if len(claims) == 0 {
		return nil
	}
	w.eager.mu.Lock()
	w.sweepEagerLocked(now)
	for _, r := range claims {
		w.eager.runs[eagerKey(&r.task)] = r
	}
	w.eager.mu.Unlock()
	return claims
}

// eagerHeader is the claim to write in the batch's header.
func (w *Worker) eagerHeader(claims []*eagerRun) string {
	if len(claims) == 0 {
		return ""
	}
	seqs := make([]int64, len(claims))
	for i, r := range claims {
		seqs[i] = r.task.Seq
	}
	return encodeEager(w.eager.token, seqs)
}

// releaseEager drops claims whose batch was not appended, or may have
// been (an append whose answer was lost: the dispatcher may even have
// delivered a guard here meanwhile). Such an attempt never runs: its
// guard, here or wherever it lands, finds it unknown and records it lost.
// A speculative attempt (worker_chain.go) runs already: it is cancelled,
// and stays known here as running until it ends, so that no guard takes
// it for lost and runs it again meanwhile.
func (w *Worker) releaseEager(claims []*eagerRun) {
	if len(claims) == 0 {
		return
	}
	w.eager.mu.Lock()
	for _, r := range claims {
		if r.spec == nil {
			delete(w.eager.runs, eagerKey(&r.task))
		}
	}
	w.eager.mu.Unlock()
	for _, r := range claims {
		r.mu.Lock()
		r.abandoned = true
		r.mu.Unlock()
		if r.spec != nil {
			r.cancel(ErrCanceled)
			r.verdict <- verdictAbandoned // it ends itself (endSpeculative)
			continue
		}
		<-w.actSlots
		w.endGuardsOfAbandoned(r)
	}
}

// endSpeculative ends an abandoned speculative attempt once it stopped.
func (w *Worker) endSpeculative(r *eagerRun) {
	<-w.actSlots
	r.mu.Lock()
	r.finished = time.Now()
	r.mu.Unlock()
	w.forgetEager(&r.task)
	w.endGuardsOfAbandoned(r)
}

// endGuardsOfAbandoned records lost the attempt whose guards reached this
// worker meanwhile.
func (w *Worker) endGuardsOfAbandoned(r *eagerRun) {
	r.mu.Lock()
	guards, stops := r.guards, r.stops
	r.guards, r.stops = nil, nil
	r.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	for _, d := range guards {
		// Not here: the caller may hold the run's lock, which recording
		// the loss takes.
		w.tasks.Add(1)
		go func() {
			defer w.tasks.Done()
			w.guardOfUnknown(w.work, d, &r.task)
		}()
	}
}

// launchEager runs the claimed attempts of a batch just appended.
func (w *Worker) launchEager(claims []*eagerRun) {
	for _, r := range claims {
		r.mu.Lock()
		r.started = true
		r.mu.Unlock()
		if r.spec != nil {
			r.verdict <- verdictAppended // running already
			continue
		}
		w.tasks.Add(1)
		w.pool.Go(func() {
			defer w.tasks.Done()
			w.runEager(w.work, r)
		})
	}
}

func eagerKey(t *activityTask) string { return activityMsgID(t.RunID, t.Seq, t.Attempt) }

// isEagerClaimed tells whether seq is among claims.
func isEagerClaimed(claims []*eagerRun, seq int64) bool {
	for _, r := range claims {
		if r.task.Seq == seq {
			return true
		}
	}
	return false
}

// runEager runs one eager attempt and saves its outcome, then ends the
// guard if it arrived meanwhile.
func (w *Worker) runEager(ctx context.Context, r *eagerRun) {
	defer func() { <-w.actSlots }()
	w.saveEager(ctx, r, w.runEagerAttempt(ctx, r))
}

// runEagerAttempt runs an eager attempt, measured.
func (w *Worker) runEagerAttempt(ctx context.Context, r *eagerRun) attemptOutcome {
	defer w.measureEager()()
	w.eagerTaken()
	return w.runAttempt(ctx, &r.task, false, nil)
}

// saveEager saves an eager attempt's outcome, then ends the guard if it
// arrived meanwhile.
func (w *Worker) saveEager(ctx context.Context, r *eagerRun, out attemptOutcome) {
	// canceled: the workflow moved on (a cancellation, or a newer attempt,
	// is in history), nothing to save
	saved, inHistory := out.canceled, out.canceled
	if !saved {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		saved, inHistory = w.saveOutcomeWhere(rctx, &r.task, out)
		cancel()
	}
	r.mu.Lock()
	r.finished, r.saved, r.out = time.Now(), saved, out
	guards, stops := r.guards, r.stops
	r.guards, r.stops = nil, nil
	r.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	if len(guards) == 0 {
		if inHistory {
			// Usually no guard comes (the dispatcher saw the outcome:
			// dispatcher_hold.go); one that still does finds the attempt
			// decided in history (guardOfUnknown).
			w.forgetEager(&r.task)
		}
		return // else kept until its guard arrives (or eagerForget)
	}
	for _, d := range guards {
		if saved {
			w.finishDelivery(ctx, d, ackTask)
		} else {
			w.finishDelivery(ctx, d, nakAfter(time.Second)) // back here: saving is tried again
		}
	}
	if saved {
		w.forgetEager(&r.task)
	}
}

func (w *Worker) forgetEager(t *activityTask) {
	w.eager.mu.Lock()
	delete(w.eager.runs, eagerKey(t))
	w.eager.mu.Unlock()
}

// sweepEagerLocked forgets attempts finished long ago whose guard never
// came (the dispatcher derives none for a run that closed meanwhile).
func (w *Worker) sweepEagerLocked(now time.Time) {
	if now.Sub(w.eager.lastSweep) < time.Minute {
		return
	}
	w.eager.lastSweep = now
	for k, r := range w.eager.runs {
		r.mu.Lock()
		old := !r.finished.IsZero() && now.Sub(r.finished) > eagerForget
		r.mu.Unlock()
		if old {
			delete(w.eager.runs, k)
		}
	}
}

// ownerQuery asks the owner of an eager attempt about it; the answer is
// one of the owner* strings.
type ownerQuery struct {
	Key string `json:"key"`
}

const (
	ownerRuns = "runs" // the attempt runs, or its outcome is being saved
	ownerDone = "done" // its outcome is saved
	ownerGone = "gone" // unknown here, or its outcome could not be saved
)

// answerOwnerQuery tells another worker holding a guard what became of
// the attempt.
func (w *Worker) answerOwnerQuery(req []byte) []byte {
	var q ownerQuery
	if json.Unmarshal(req, &q) != nil {
		return []byte(ownerGone)
	}
	w.eager.mu.Lock()
	defer w.eager.mu.Unlock()
	r := w.eager.runs[q.Key]
	if r == nil {
		return []byte(ownerGone)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.abandoned && r.spec != nil && r.finished.IsZero():
		return []byte(ownerRuns) // cancelled, not stopped yet
	case r.abandoned: // (out of the map, or about to be)
		return []byte(ownerGone)
	case !r.started || r.finished.IsZero():
		return []byte(ownerRuns)
	case r.saved:
		delete(w.eager.runs, q.Key) // its guard is the asker's
		return []byte(ownerDone)
	default:
		delete(w.eager.runs, q.Key) // the asker records it lost
		return []byte(ownerGone)
	}
}

// handleGuard ends the delivery of a guard task (an eager attempt's).
func (w *Worker) handleGuard(ctx context.Context, d Delivery, t *activityTask) {
	if w.eager.bus != nil && t.Eager == w.eager.token {
		w.eager.mu.Lock()
		r := w.eager.runs[eagerKey(t)]
		w.eager.mu.Unlock()
		if r != nil {
			w.adoptGuard(ctx, r, d)
			return
		}
	} else if bus, ok := w.store.(workerBus); ok {
		resp, err := bus.AskWorker(ctx, t.WorkflowQueue, t.Eager, mustJSON(ownerQuery{Key: eagerKey(t)}))
		switch {
		case err == nil && string(resp) == ownerRuns:
			w.finishDelivery(ctx, d, nakAfter(eagerRecheck))
			return
		case err == nil && string(resp) == ownerDone:
			w.finishDelivery(ctx, d, ackTask)
			return
		case err != nil && !errors.Is(err, ErrNoResponders):
			w.log.Warn("asking the worker of an eager activity failed; asking again later", runArgs(t.WorkflowID, t.RunID, t.Attempt, "activity_seq", t.Seq, "err", err)...)
			w.finishDelivery(ctx, d, nakAfter(eagerRecheck))
			return
		}
	} else if t.Eager != w.eager.token {
		// This store cannot ask the owner: leave the guard to a worker
		// that can (never take a live owner's attempt for lost).
		w.finishDelivery(ctx, d, nakAfter(eagerRecheck))
		return
	}
	w.guardOfUnknown(ctx, d, t)
}

// guardOfUnknown ends the guard of an attempt whose owner is gone or does
// not know it: unless history has its outcome, it is lost.
func (w *Worker) guardOfUnknown(ctx context.Context, d Delivery, t *activityTask) {
	if !w.attemptStillCurrent(ctx, t) {
		w.finishDelivery(ctx, d, ackTask)
		return
	}
	w.finishAttempt(ctx, d, t, attemptOutcome{failure: &Failure{Type: FailureWorkerLost, Message: fmt.Sprintf(
		"attempt %d of activity seq %d was run at once by the worker that scheduled it, which stopped without reporting (died, hung, or was stopped)",
		t.Attempt, t.Seq)}})
}

// adoptGuard keeps the guard of an attempt this worker runs in progress
// until its outcome is saved, or ends it now if it is.
func (w *Worker) adoptGuard(ctx context.Context, r *eagerRun, d Delivery) {
	r.mu.Lock()
	if r.finished.IsZero() && (!r.abandoned || r.spec != nil) { // it runs
		r.guards = append(r.guards, d)
		r.stops = append(r.stops, keepInProgress(d))
		r.mu.Unlock()
		return
	}
	if r.abandoned {
		r.mu.Unlock()
		w.guardOfUnknown(ctx, d, &r.task)
		return
	}
	saved, out := r.saved, r.out
	r.mu.Unlock()
	w.forgetEager(&r.task)
	if saved {
		w.finishDelivery(ctx, d, ackTask)
		return
	}
	w.finishAttempt(ctx, d, &r.task, out) // saving failed before: try again
}
