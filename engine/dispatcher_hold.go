package engine

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/foremanhq/foreman/internal/backoff"
)

// Eager attempts without guard tasks, in the common case (issue 21).
//
// A guard task (worker_eager.go) only matters if the attempt's outcome
// never reaches history: its worker died, or its append's answer was lost.
// Usually the outcome is appended within milliseconds, so storing,
// delivering and acknowledging a guard per attempt was most of an eager
// activity's cost. The dispatcher therefore holds the batch claiming the
// attempts unacknowledged instead (the store's HistoryHolder), and watches
// the run's later batches: once they settle every claimed attempt (their
// Settles header), the batch is acknowledged and no
// guard is ever stored. If the hold's delay passes first (a long attempt,
// a dead worker, or the settling batch went to another engine sharing the
// consumer), the guards are published exactly as before, and then the
// batch is acknowledged. The unacknowledged batch is the durable
// reminder: if the engine dies meanwhile, it is redelivered to the next
// dispatcher, which derives it again (every derived message has a stable
// id) and holds or guards it. Only a batch that implies nothing but its
// eager attempts (and their timeouts) is held, so a late redelivery never
// repeats other work; any other batch publishes its guards at once.

// defaultEagerGuardDelay is how long a claimed attempt's outcome may take
// before its guard is published: no-op activities settle in
// milliseconds; a worker that died is noticed this much later than it
// would be with a guard at once.
const defaultEagerGuardDelay = 2 * time.Second

// settledActivities lists (encodeSeqs) the activities whose current
// attempt b decides: after it, no guard of theirs is needed.
func settledActivities(b *Batch) string {
	var seqs []int64
	for _, e := range b.Events {
		switch a := e.Attrs.(type) {
		case *ActivityCompleted:
			seqs = append(seqs, a.Seq)
		case *ActivityFailed:
			seqs = append(seqs, a.Seq)
		case *ActivityAttemptFailed:
			seqs = append(seqs, a.Seq)
		case *ActivityCancelRequested:
			seqs = append(seqs, a.Seq)
		}
	}
	if len(seqs) == 0 {
		return ""
	}
	return encodeSeqs(seqs)
}

// isEagerScheduled tells whether e schedules an attempt the batch claims
// (which derives only that attempt's timeouts).
func isEagerScheduled(h BatchHeader, e Event) bool {
	a, ok := e.Attrs.(*ActivityScheduled)
	return ok && eagerOwner(h, a.Seq) != ""
}

// guardHolds are a dispatcher's held batches.
type guardHolds struct {
	s     Store
	log   *slog.Logger
	delay time.Duration // < 0: every guard is published at once

	mu    sync.Mutex
	byRun map[string][]*heldGuards
	queue []*heldGuards // in due order (one delay for all)
	wake  chan struct{} // a hold was added
}

// heldGuards are the guards a held batch still owes.
type heldGuards struct {
	h     BatchHeader // the claiming batch's
	token string      // the claiming worker's
	seqs  []int64     // the claimed attempts not yet settled
	// start is set for an eager start (dispatcher_start.go): the batch
	// owes its wake task, not guards
	start *StoredBatch
	due   time.Time
	held  HeldBatch
	ended bool // settled, or its guards are being published
}

// publish stores what the hold owes: its guards, or its start's wake.
func (e *heldGuards) publish(ctx context.Context, s Store) error {
	if e.start != nil {
		return publishWake(ctx, s, *e.start)
	}
	return publishGuards(ctx, s, e.h, e.token, e.seqs)
}

func newGuardHolds(s Store, log *slog.Logger, delay time.Duration) *guardHolds {
	if delay == 0 {
		delay = defaultEagerGuardDelay
	}
	return &guardHolds{s: s, log: log, delay: delay, byRun: map[string][]*heldGuards{}, wake: make(chan struct{}, 1)}
}

// holdFunc is a HistoryHolder's hold (nil: the store cannot hold).
type holdFunc = func(i int) (HeldBatch, bool)

// consume runs fn over the dispatcher's history consumer, holding what
// fn holds when the store can, and publishes the guards of holds whose
// delay passed.
func (g *guardHolds) consume(ctx context.Context, fn func([]StoredBatch, holdFunc) error) error {
	hs, ok := g.s.(HistoryHolder)
	if !ok || g.delay < 0 {
		return g.s.ConsumeHistory(ctx, dispatcherDurable, func(b []StoredBatch) error { return fn(b, nil) })
	}
	ectx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { g.expire(ectx) })
	err := hs.ConsumeHistoryHolding(ctx, dispatcherDurable, fn)
	cancel()
	wg.Wait()
	return err
}

// guardPlan is what one handler call does with its batches' claims.
type guardPlan struct {
	g    *guardHolds
	hold holdFunc
	// claims: by batch index, the claimed attempts that no later batch of
	// the call settles (absent: the batch claims none)
	claims map[int][]int64
	// starts: by batch index, the eager starts, and whether a later batch
	// of the call settles them (dispatcher_start.go)
	starts map[int]bool

	mu   sync.Mutex
	held []*heldGuards // taken in this call
}

// plan settles, in order, what the batches settle (holds of earlier
// calls: acknowledged if nothing is left to guard; claims of this call:
// dropped), and notes each batch's remaining claims. nil: guards are
// published at once, as claimed.
func (g *guardHolds) plan(batches []StoredBatch, hold holdFunc) *guardPlan {
	if g.delay < 0 {
		return nil
	}
	p := &guardPlan{g: g, hold: hold}
	var open map[string][]int // run -> batches of this call with claims left
	var openStarts map[string]int
	for i, sb := range batches {
		h := sb.Header
		if h.Kind == BatchImported {
			continue
		}
		if takesUpStart(h) {
			g.settleStart(h.RunID)
			if j, ok := openStarts[h.RunID]; ok {
				p.starts[j] = true
				delete(openStarts, h.RunID)
			}
		}
		if eagerStartHeld(h) {
			if p.starts == nil {
				p.starts, openStarts = map[int]bool{}, map[string]int{}
			}
			p.starts[i], openStarts[h.RunID] = false, i
		}
		// (A close does not settle: it may be a forgery the dispatcher
		// refuses; an attempt left running by a closing run is guarded.)
		if settled, ok := parseSeqs(h.Settles); ok && h.Settles != "" {
			g.settle(h.RunID, settled)
			for _, j := range open[h.RunID] {
				p.claims[j] = unsettled(p.claims[j], settled)
			}
		}
		if _, seqs := parseEager(h.Eager); len(seqs) > 0 {
			if p.claims == nil {
				p.claims, open = map[int][]int64{}, map[string][]int{}
			}
			p.claims[i] = seqs
			open[h.RunID] = append(open[h.RunID], i)
		}
	}
	return p
}

// unsettled is claims without settled.
func unsettled(claims, settled []int64) []int64 {
	return slices.DeleteFunc(claims, func(s int64) bool { return slices.Contains(settled, s) })
}

// settle takes settled out of the run's holds and acknowledges those with
// nothing left to guard.
func (g *guardHolds) settle(runID string, settled []int64) {
	g.endHolds(runID, func(e *heldGuards) bool {
		if e.start != nil {
			return false // settleStart's
		}
		e.seqs = unsettled(e.seqs, settled)
		return len(e.seqs) == 0
	})
}

// endHolds acknowledges the run's holds that over says are over (called
// with g.mu held, it may update them).
func (g *guardHolds) endHolds(runID string, over func(*heldGuards) bool) {
	var done []*heldGuards
	g.mu.Lock()
	hs := g.byRun[runID]
	if len(hs) == 0 {
		g.mu.Unlock()
		return
	}
	keep := hs[:0]
	for _, e := range hs {
		if over(e) {
			e.ended = true
			done = append(done, e)
			continue
		}
		keep = append(keep, e)
	}
	if len(keep) == 0 {
		delete(g.byRun, runID)
	} else {
		g.byRun[runID] = keep
	}
	g.mu.Unlock()
	for _, e := range done {
		e.held.Ack()
	}
}

// guard ends batch i's claims once the rest of it is derived: holds it
// when it implies nothing else (quiet) and the store lets it, publishes
// its guards otherwise.
func (p *guardPlan) guard(ctx context.Context, s Store, i int, h BatchHeader, quiet bool) error {
	token, seqs := parseEager(h.Eager)
	if p != nil {
		seqs = p.claims[i] // what this call's later batches left
	}
	if len(seqs) == 0 {
		return nil
	}
	if p != nil && p.hold != nil && quiet {
		if held, ok := p.hold(i); ok {
			p.mu.Lock()
			p.held = append(p.held, &heldGuards{h: h, token: token, seqs: seqs, held: held})
			p.mu.Unlock()
			return nil
		}
	}
	return publishGuards(ctx, s, h, token, seqs)
}

// commit starts the delay of the holds the call took, once it succeeded.
func (p *guardPlan) commit() {
	if p == nil || len(p.held) == 0 {
		return
	}
	g := p.g
	g.mu.Lock()
	due := time.Now().Add(g.delay)
	for _, e := range p.held {
		e.due = due
		g.byRun[e.h.RunID] = append(g.byRun[e.h.RunID], e)
		g.queue = append(g.queue, e)
	}
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// expire publishes the guards of holds whose delay passed, then
// acknowledges their batches, until ctx ends (the store hands back what
// is still held then).
func (g *guardHolds) expire(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		due, next := g.takeDue(time.Now())
		for _, e := range due {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				g.publishHeld(ctx, e)
			})
		}
		if next < 0 {
			next = time.Hour
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-g.wake:
		case <-timer.C:
		}
	}
}

// takeDue takes the holds due by now out, and says when the next is due
// (-1: none held).
func (g *guardHolds) takeDue(now time.Time) (due []*heldGuards, next time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.queue) > 0 {
		e := g.queue[0]
		if !e.ended && e.due.After(now) {
			return due, e.due.Sub(now)
		}
		g.queue[0] = nil
		g.queue = g.queue[1:]
		if e.ended {
			continue
		}
		e.ended = true
		hs := slices.DeleteFunc(g.byRun[e.h.RunID], func(x *heldGuards) bool { return x == e })
		if len(hs) == 0 {
			delete(g.byRun, e.h.RunID)
		} else {
			g.byRun[e.h.RunID] = hs
		}
		due = append(due, e)
	}
	return due, -1
}

// publishHeld publishes a hold's guards (retrying while the store fails)
// and acknowledges its batch; if ctx ends first, the batch goes back.
func (g *guardHolds) publishHeld(ctx context.Context, e *heldGuards) {
	bo := backoff.Loop{Policy: backoff.Policy{Initial: 100 * time.Millisecond, Factor: 2, Max: 5 * time.Second}}
	for {
		err := e.publish(ctx, g.s)
		if err == nil {
			e.held.Ack()
			return
		}
		if errors.Is(err, ErrInvalidArgument) {
			// as runDispatcher does: retrying what the store refuses for
			// good would never end
			g.log.Error("skipped the guards of a held history batch that the store refuses", "workflow_id", e.h.WorkflowID, "run_id", e.h.RunID, "err", err)
			e.held.Ack()
			return
		}
		g.log.Warn("publishing the guards of a held history batch failed; retrying", "workflow_id", e.h.WorkflowID, "run_id", e.h.RunID, "err", err)
		if !bo.Wait(ctx) {
			e.held.Nak()
			return
		}
	}
}

// publishGuards publishes the guard task of each attempt in seqs, run
// eagerly by the worker token, from the header alone: a guard is never
// run (the attempt is, or it is recorded lost), so it names the attempt
// and its owner, and the batch need not be decoded for it.
func publishGuards(ctx context.Context, s Store, h BatchHeader, token string, seqs []int64) error {
	for _, seq := range seqs {
		t, _ := json.Marshal(activityTask{RunID: h.RunID, WorkflowID: h.WorkflowID, WorkflowQueue: h.TaskQueue, Seq: seq, Attempt: 1, Eager: token, Trace: h.Trace})
		if err := s.PublishTask(ctx, ActivityTaskKind, h.TaskQueue, t, activityMsgID(h.RunID, seq, 1)); err != nil {
			return err
		}
	}
	return nil
}
