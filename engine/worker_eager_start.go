package engine

import "time"

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
