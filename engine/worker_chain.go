package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Chained workflow tasks (issue 21). A workflow task whose only effect is
// to schedule activities this worker runs eagerly (worker_eager.go) starts
// them before its batch is appended, and waits a little for them: when
// they all succeed within chainWait, the run takes their results at once
// and its next workflow task follows in the same batch. A workflow of
// quick sequential activities then costs one append instead of one per
// activity, each ~0.4 ms over TCP: the round trip is what the user waits
// for, not the activity.
//
// What it costs, and why that is safe:
//   - An attempt may start before its ActivityScheduled is stored. If the
//     worker dies first, history never scheduled it: the run goes on from
//     its last stored batch, whose own attempts are guarded as before, and
//     the activity runs again (activities run at least once).
//   - If the append fails (someone appended meanwhile: a signal, an
//     operator), the batch is dropped and the task starts over from
//     history. The chained outcomes are kept for that retry (chainMemo): an
//     attempt of the same activity, with the same input, at the same point
//     takes its outcome instead of running again. An attempt still running
//     is cancelled, and its outcome is never saved.
//   - Replay splits a batch at each WorkflowTaskCompleted (applyBatch),
//     and each workflow task sees the time it ran at, as before.
//   - Only activities that have mostly ended within chainWait lately are
//     chained (noteQuickness), so one that takes long is not started early.
//   - Only attempts with nothing the engine times (no heartbeat,
//     schedule-to-start or schedule-to-close timeout, and a start-to-close
//     timeout of at least chainMinTimeout) are chained, and only
//     successes: a failure goes through its retry policy as before.
//   - The run's lock is held meanwhile, at most chainBudget (plus one
//     chainWait) longer than before.
const (
	chainTasks      = 16
	chainMinTimeout = time.Second
	// chainMaxBytes bounds the activity inputs and results a chain adds
	// to a batch, far below what the store accepts in one message
	chainMaxBytes = 1 << 20
)

// (variables: tests set them, SetChainWait)
var (
	chainWait   = 500 * time.Microsecond
	chainBudget = 2 * time.Millisecond
)

// chainQuick is the score (see noteQuickness) an activity needs to be
// chained: one that takes long is not started before it is scheduled in
// history. A new activity scores 0.
const (
	chainQuick    = 3
	chainQuickMax = 8
)

// noteQuickness scores an attempt's duration into its activity's
// quickness: up one for an attempt that ended within chainWait, down one
// for one that did not. An activity that is quick but for an odd slow
// attempt (a busy machine) stays chained; one that is slow more often
// than quick soon is not.
func noteQuickness(fi *funcInfo, took time.Duration) {
	q := fi.quick.Load()
	switch {
	case took > chainWait && q > 0:
		fi.quick.Store(q - 1)
	case took <= chainWait && q < chainQuickMax:
		fi.quick.Store(q + 1)
	}
}

// chainMemo keeps, by activity seq, the outcomes a chain took, for a retry
// of the workflow task after its append failed.
type chainMemo map[int64]chainedOutcome

type chainedOutcome struct {
	activityType string
	input        json.RawMessage
	result       json.RawMessage
}

// recalled is the outcome a memo holds for the attempt r, if it ran the
// same activity with the same input.
func (m chainMemo) recalled(r *eagerRun) (attemptOutcome, bool) {
	c, ok := m[r.task.Seq]
	if !ok || c.activityType != r.task.ActivityType || !bytes.Equal(c.input, r.task.Input) {
		return attemptOutcome{}, false
	}
	return attemptOutcome{result: c.result}, true
}

// chain claims the attempts of batch (a workflow task's, not appended yet)
// this worker runs eagerly and, while they succeed quickly, continues the
// run with their outcomes. It returns the batch to append and its claims:
// those may be running already; launchEager lets them go on once the batch
// is appended, releaseEager stops them if it is not.
//
// A task delivered before (redelivered) chains nothing: whoever had it
// may have run the run on from it already, and its state may be stale.
func (w *Worker) chain(env *workflowEnv, batch *Batch, now time.Time, memo chainMemo, delivered uint64) (*Batch, []*eagerRun, error) {
	claims := w.claimEager(env, batch, now)
	began, size := time.Now(), 0
	for tasks := 1; delivered <= 1 && w.chainable(env, batch, claims); tasks++ {
		outs, ok := w.speculate(claims, memo)
		for i, o := range outs {
			size += len(o.result) + len(claims[i].task.Input)
		}
		if !ok || size > chainMaxBytes {
			break
		}
		var results []Event
		for i, r := range claims {
			r.verdict <- verdictTaken
			w.forgetEager(&r.task)
			memo[r.task.Seq] = chainedOutcome{activityType: r.task.ActivityType, input: r.task.Input, result: outs[i].result}
			in := &inbound{Kind: inboundActivityResult, Seq: r.task.Seq, Attempt: r.task.Attempt, Result: outs[i].result}
			results = append(results, w.accept(env, in, now).events...)
		}
		results = append(results, env.releases()...)
		now = latest(w.clock.Now().UTC(), env.lastEventTime)
		next, err := env.liveTask(results, now, w.opts.Identity)
		if err == nil {
			err = attestCommands(w.store, env.info.TaskQueue, next.Events)
		}
		if err != nil {
			return nil, nil, err
		}
		batch = &Batch{Kind: BatchTask, TaskTime: next.TaskTime, Events: append(batch.Events, next.Events...)}
		claims = w.claimEager(env, next, now)
		if tasks >= chainTasks || time.Since(began) >= chainBudget || env.lastEventID >= w.opts.HistoryLimit {
			break
		}
	}
	return batch, claims, nil
}

// chainable tells whether the attempts a workflow task just claimed may
// run before its batch is appended (see the top of this file).
func (w *Worker) chainable(env *workflowEnv, batch *Batch, claims []*eagerRun) bool {
	// onlyEagerDerives: every activity the task schedules is claimed here
	// (none waits for the dispatcher), and nothing else is derived
	if len(claims) == 0 || w.opts.DisableChaining || w.tracer != nil || env.closed || env.pauses.paused() || !onlyEagerDerives(batch, claims) {
		return false
	}
	for _, r := range claims {
		o := r.task.Options
		if o.HeartbeatTimeout > 0 || o.StartToCloseTimeout > 0 && o.StartToCloseTimeout < chainMinTimeout {
			return false
		}
		if fi, ok := w.reg.activity(r.task.ActivityType); !ok || fi.quick.Load() < chainQuick {
			return false
		}
	}
	return true
}

// speculate starts claims before their batch is appended and waits up to
// chainWait for their outcomes; ok if all succeeded in time. Whatever it
// returns, each claim then waits for its verdict.
func (w *Worker) speculate(claims []*eagerRun, memo chainMemo) (outs []attemptOutcome, ok bool) {
	for _, r := range claims {
		ctx, cancel := context.WithCancelCause(w.work)
		r.mu.Lock() // (a guard's owner query may look at it already)
		r.spec, r.verdict, r.cancel = make(chan attemptOutcome, 1), make(chan eagerVerdict, 1), cancel
		r.mu.Unlock()
		recalled, known := memo.recalled(r)
		w.tasks.Add(1)
		w.pool.Go(func() {
			defer w.tasks.Done()
			w.runSpeculative(ctx, r, recalled, known)
		})
	}
	timeout := time.NewTimer(chainWait)
	defer timeout.Stop()
	outs = make([]attemptOutcome, len(claims))
	for i, r := range claims {
		select {
		case outs[i] = <-r.spec:
		case <-timeout.C:
			return nil, false
		}
		if outs[i].failure != nil || outs[i].canceled {
			return nil, false
		}
	}
	return outs, true
}

// runSpeculative runs a speculative attempt (or recalls its outcome),
// offers the outcome, and does what its verdict says.
func (w *Worker) runSpeculative(ctx context.Context, r *eagerRun, recalled attemptOutcome, known bool) {
	defer r.cancel(nil)
	out := recalled
	if !known {
		out = w.runEagerAttempt(ctx, r)
	}
	r.spec <- out
	switch <-r.verdict {
	case verdictTaken:
		<-w.actSlots
	case verdictAppended:
		defer func() { <-w.actSlots }()
		w.saveEager(w.work, r, out)
	case verdictAbandoned: // its outcome is never saved
		w.endSpeculative(r)
	}
}

// closedRuns remembers the runs a worker closed lately. A task for one
// (a wake carrying the run's start, a late result) is dropped at once:
// built from the carried start, the run's state would be stale, and a
// chain on it would run its activities again before its append failed.
type closedRuns struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

// closedRunsKept bounds closedRuns.
const closedRunsKept = 4096

func (c *closedRuns) add(runID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == nil {
		c.set, c.ring = map[string]struct{}{}, make([]string, closedRunsKept)
	}
	if old := c.ring[c.next]; old != "" {
		delete(c.set, old)
	}
	c.ring[c.next], c.next = runID, (c.next+1)%closedRunsKept
	c.set[runID] = struct{}{}
}

func (c *closedRuns) has(runID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.set[runID]
	return ok
}
