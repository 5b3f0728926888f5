package engine

import "context"

// Eager starts (local.go) in the dispatcher. A start batch whose header
// says a worker of the starting client's process took the run's first
// workflow task (EagerStart) is held like a batch claiming eager attempts
// (dispatcher_hold.go): acknowledged, with no wake task, once a later
// batch of the run comes (the worker's first append; or any batch
// appended meanwhile, which wakes the run itself or closes it); its wake
// task published only if the guard delay passes first (the worker died,
// or its append failed). A wake task for a run already taken up is
// harmless: the worker finds nothing new and appends nothing.

// eagerStartHeld tells whether h is an eager start the dispatcher may
// hold: its wake task is all it implies.
func eagerStartHeld(h BatchHeader) bool {
	return h.EagerStart && h.FirstEventID == 1 && h.Wake && !h.Derive && !h.Closed
}

// takesUpStart tells whether h, a batch of a run, shows that the run's
// start was taken up: any later batch but a task batch of one event that
// implies nothing, which may be a workflow task's failure (an eager start
// failing so publishes its wake task itself, takeStart; this keeps its
// hold should it die first). A workflow task that only completes looks
// the same: its start is then woken again after the delay, harmlessly.
func takesUpStart(h BatchHeader) bool {
	if h.FirstEventID <= 1 {
		return false
	}
	return h.Kind != BatchTask || h.LastEventID > h.FirstEventID || h.Wake || h.Derive || h.Closed || h.Settles != ""
}

// startTaken tells whether batch i is an eager start whose wake task the
// plan takes over: settled by a later batch of the call, or to be held.
func (p *guardPlan) startTaken(i int, h BatchHeader) bool {
	if p == nil || !eagerStartHeld(h) {
		return false
	}
	settled, ok := p.starts[i]
	return ok && (settled || p.hold != nil)
}

// holdStart holds eager start i (startTaken), unless a later batch of
// the call settled it; if the store will not hold it, its wake task is
// published now.
func (p *guardPlan) holdStart(ctx context.Context, s Store, i int, sb StoredBatch) error {
	if p.starts[i] {
		return nil
	}
	if held, ok := p.hold(i); ok {
		sb := sb
		p.mu.Lock()
		p.held = append(p.held, &heldGuards{h: sb.Header, start: &sb, held: held})
		p.mu.Unlock()
		return nil
	}
	return publishWake(ctx, s, sb)
}

// settleStart acknowledges the held eager start of runID, if any: a later
// batch of the run came.
func (g *guardHolds) settleStart(runID string) {
	g.endHolds(runID, func(e *heldGuards) bool { return e.start != nil })
}
