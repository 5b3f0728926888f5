package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Eager start (local.go): the first workflow task of a run a client of
// this process just started, taken at once instead of through the
// dispatcher and the task stream (a store write, a delivery, an
// acknowledgement and the hops between three processes' goroutines).

// joinLocal offers this worker's workflow tasks to the clients of its
// process (a store that names its deployment, and workflows registered).
func (w *Worker) joinLocal() {
	if w.opts.DisableLocalHandoffs {
		return
	}
	w.deployment = deploymentOf(w.store)
	if w.deployment == "" || len(w.reg.workflows) == 0 {
		return
	}
	w.stops = append(w.stops, local.addWorker(w.deployment, w))
}

// reserveEagerStart takes room for one eager start: at most
// MaxConcurrentWorkflowTasks run at once, besides the delivered tasks.
func (w *Worker) reserveEagerStart() bool {
	if w.stopping.Load() {
		return false
	}
	if w.eagerStarts.Add(1) > int32(w.opts.MaxConcurrentWorkflowTasks) {
		w.eagerStarts.Add(-1)
		return false
	}
	return true
}

// endEagerStart gives back what reserveEagerStart took.
func (w *Worker) endEagerStart() { w.eagerStarts.Add(-1) }

// takeStart runs the first workflow task of a run whose start batch (at
// history position seq) a client of this process appended, its room
// reserved; false if the worker is stopping (the dispatcher's wake task
// comes after its guard delay instead).
func (w *Worker) takeStart(t workflowTask) bool {
	w.mu.Lock()
	if w.stopping.Load() {
		w.mu.Unlock()
		w.endEagerStart()
		local.left(w.deployment, t.RunID)
		return false
	}
	w.tasks.Add(1) // under mu: stop sets stopping under it before it waits
	w.mu.Unlock()
	w.pool.Go(func() {
		defer w.tasks.Done()
		defer w.endEagerStart()
		began := time.Now()
		w.eagerStartTaken()
		unlock := w.locks.lock(t.RunID)
		o := w.processWorkflowTask(w.work, &t, 1)
		unlock()
		w.observeLocalWorkflowTask(began)
		if o.nak {
			local.left(w.deployment, t.RunID)
			// No delivery to hand back: the wake task is the retry (its
			// message id is the dispatcher's, which publishes it too if
			// this worker dies first: dispatcher_start.go).
			if err := w.store.PublishTask(w.work, WorkflowTaskKind, w.queue, mustJSON(workflowTask{RunID: t.RunID, WorkflowID: t.WorkflowID, HistorySeq: t.HistorySeq, Trace: t.Trace}),
				wakeMsgID(t.RunID, t.HistorySeq)); err != nil {
				w.log.Warn("an eager start's workflow task failed and so did publishing its retry; the dispatcher publishes it after its guard delay", runArgs(t.WorkflowID, t.RunID, 1, "err", err)...)
			}
		}
	})
	return true
}

// eagerStarter returns the worker of this process that takes the first
// workflow task of a run opts start, its room reserved; nil if none.
func (c *Client) eagerStarter(opts StartOptions, workflowType string) *Worker {
	if c.deployment == "" {
		return nil
	}
	return local.starter(c.deployment, opts.TaskQueue, workflowType)
}

// handStart gives w the first workflow task of the run whose start batch
// this client appended at seq, as the dispatcher's wake task would carry
// it; the run's close is kept for this client's wait.
func (c *Client) handStart(w *Worker, rec RunRecord, workflowID string, seq uint64) {
	local.expectClose(c.deployment, rec.RunID)
	t := workflowTask{RunID: rec.RunID, WorkflowID: workflowID, HistorySeq: seq, Trace: rec.StartHeader.Trace}
	if len(rec.Start) <= firstBatchInTaskMax {
		t.First = rec.Start
	}
	w.takeStart(t)
}

// staysHere tells whether all a batch just appended implies is attempts
// this worker runs eagerly (claims): their outcomes come back to the run
// here, so its next step does too (see localRun.left).
func staysHere(b *Batch, claims []*eagerRun) bool {
	if len(claims) == 0 {
		return false
	}
	for _, e := range b.Events {
		if !derivesFrom(e) {
			continue
		}
		if a, ok := e.Attrs.(*ActivityScheduled); !ok || !isEagerClaimed(claims, a.Seq) {
			return false
		}
	}
	return true
}

// firstTaskMax bounds how long a Start waits for the first workflow task
// run with it (startWithFirstTask): workflow code that blocks does not
// hold the caller; its start goes alone, and the task through the server.
const firstTaskMax = 100 * time.Millisecond

// firstTask is a run's first workflow task, run before its start is
// stored, holding the run's lock until it is appended or dropped.
type firstTask struct {
	env    *workflowEnv
	batch  *Batch // the start's events, then the task's
	data   []byte
	h      BatchHeader
	claims []*eagerRun
	memo   chainMemo // what its chain ran
	now    time.Time
	failed bool // the workflow failed the task: nothing else is set
	unlock func()
}

// drop ends a first task that is not appended.
func (f *firstTask) drop(w *Worker) {
	if f.env != nil {
		w.releaseEager(f.claims)
		f.env.close()
	}
	f.unlock()
}

// beginFirstTask starts running the first workflow task of rec's run
// (runFirstTask), while the client claims the run; nil when the task
// cannot go with the start (a traced task has its span where it runs, a
// start with a signal is screened alone, the worker is stopping). Give
// the result to startWithFirstTask, or drop it.
func (w *Worker) beginFirstTask(rec RunRecord) <-chan *firstTask {
	if w.tracer != nil || w.stopping.Load() {
		return nil
	}
	start, err := DecodeBatch(rec.Start)
	if err != nil || len(start.Events) != 1 {
		return nil
	}
	done := make(chan *firstTask, 1)
	w.pool.Go(func() { done <- w.runFirstTask(rec, start) }) // (a grown stack: it encodes)
	return done
}

// dropFirstTask drops what beginFirstTask runs, once it ends.
func (w *Worker) dropFirstTask(pending <-chan *firstTask) {
	go func() { (<-pending).drop(w) }()
}

// startWithFirstTask appends a run's start together with its first
// workflow task (pending: beginFirstTask's), run here before the start is
// stored: one append instead of two (the start's, then the task's), the
// run claimed already (rec is its record). The workflow code that ran
// leaves no trace until the append lands, and what it claimed to run
// eagerly starts only then, unless quick enough to be chained into the
// same batch (sealFirstTask). ok is false when the task cannot go with the
// start (the workflow fails it or takes longer than firstTaskMax, or its
// commands cannot be signed): then nothing was appended, and the start
// goes alone; failed says the task is better run through the server
// (where a failure is recorded and retried with backoff), not at once
// here.
func (w *Worker) startWithFirstTask(ctx context.Context, s Store, rec RunRecord, pending <-chan *firstTask) (seq uint64, ok, failed bool, err error) {
	began := time.Now()
	var f *firstTask
	select {
	case f = <-pending:
	case <-time.After(firstTaskMax):
		w.dropFirstTask(pending)
		return 0, false, true, nil
	}
	if f.failed || f.env == nil {
		f.drop(w)
		return 0, false, f.failed, nil
	}
	if !w.sealFirstTask(ctx, f) {
		f.drop(w)
		return 0, false, true, nil
	}
	local.expectClose(w.deployment, rec.RunID) // before the task may close it
	seq, err = s.AppendHistory(ctx, f.h, f.data, 0, "start-task-"+rec.RunID)
	if err != nil {
		if errors.Is(err, ErrConflict) {
			// Someone else stored the start (a signal to the run, a
			// recovery): the run goes on from history, here, with what
			// the chain ran (not run twice).
			w.retakeFirstTask(rec, f)
			return 0, true, false, nil
		}
		f.drop(w)
		return 0, true, false, fmt.Errorf("recording start of run %s: %w", rec.RunID, err)
	}
	w.appended(ctx, f.env, f.batch, StoredBatch{Seq: seq, Header: f.h, Data: f.data}, f.now, f.claims)
	if f.env.closed {
		f.env.close()
	} else {
		w.cache.put(rec.RunID, f.env) // before the lock goes: the eager attempts' outcomes find it
	}
	f.unlock()
	w.eagerStartTaken()
	w.observeLocalWorkflowTask(began)
	return seq, true, false, nil
}

// retakeFirstTask runs the first workflow task of a run whose start
// someone else stored, from history, with the outcomes of the activities
// the start's chain ran (f's memo). It keeps the run's lock f holds, so
// that no wake task of the run takes it first and runs them again.
func (w *Worker) retakeFirstTask(rec RunRecord, f *firstTask) {
	w.releaseEager(f.claims)
	f.env.close()
	w.tasks.Add(1)
	go func() {
		defer w.tasks.Done()
		defer f.unlock()
		w.processWorkflowTaskWith(w.work, &workflowTask{RunID: rec.RunID, WorkflowID: rec.StartHeader.WorkflowID}, 1, f.memo)
	}()
}

// runFirstTask runs the first workflow task of rec's run on its start
// batch, under the run's lock; a firstTask without env when it cannot go
// with the start.
func (w *Worker) runFirstTask(rec RunRecord, start *Batch) *firstTask {
	f := &firstTask{unlock: w.locks.lock(rec.RunID)}
	env := w.newEnv()
	if err := env.applyBatch(StoredBatch{Data: rec.Start, Header: rec.StartHeader}, start); err != nil {
		env.close()
		f.failed = true
		return f
	}
	env.historyBytes = 0 // the start is stored within the task's batch
	f.now = latest(w.clock.Now().UTC(), env.lastEventTime)
	task, err := env.liveTask(nil, f.now, w.opts.Identity)
	if err != nil {
		env.close()
		f.failed = true
		return f
	}
	if attestCommands(w.store, env.info.TaskQueue, task.Events) != nil {
		env.close()
		return f
	}
	f.batch = &Batch{Kind: BatchTask, TaskTime: task.TaskTime, Events: append(start.Events, task.Events...)}
	f.env = env
	return f
}

// sealFirstTask claims the first task's eager attempts and seals its
// batch, once the run is claimed: only then may the task's quick
// activities run before it is stored (chain): a start refused as a
// duplicate runs none. false if the task is better run through the server.
func (w *Worker) sealFirstTask(ctx context.Context, f *firstTask) bool {
	f.memo = chainMemo{}
	batch, claims, err := w.chain(f.env, f.batch, f.now, f.memo, 1)
	if err != nil {
		return false
	}
	f.batch, f.claims = batch, claims
	if f.data, f.h, err = w.sealTask(ctx, f.env, f.batch, f.claims); err != nil {
		return false
	}
	return true
}
