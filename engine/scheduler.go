package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// The scheduler runs in every engine (RunScheduler). It watches the
// schedule records, keeps a timer per schedule at its next fire, and at
// each fire runs a pass (scheduleExec.pass): the pass that writes the
// record back with compare-and-swap made the decision, and carries out
// the steps it decided. Several engines on one NATS all fire every
// schedule; all but one pass lose the compare-and-swap and find the fire
// decided. No leader is needed, and none can be lost.
//
// A step left in a record's outbox by an engine that died (kill -9 between
// the decision and the start) is taken over: at once by an engine that
// finds it when it starts watching, else by any engine that saw it
// written and still sees it takeoverDelay later.

// takeoverDelay is how long a step decided by another engine may wait
// before this one carries it out itself: the deciding engine normally
// settles it within milliseconds.
const takeoverDelay = 2 * time.Second

// schedulerParallel bounds the passes running at once (10,000 schedules
// firing once a minute are about 170 passes a second).
const schedulerParallel = 32

type scheduleRunner struct {
	exec *scheduleExec
	clk  Clock
	log  *slog.Logger
	ctx  context.Context
	sem  chan struct{}

	mu      sync.Mutex
	entries map[string]*schedEntry
}

type schedEntry struct {
	rev      uint64
	data     []byte // the record at rev, as the watch delivered it
	ownRev   uint64 // the newest revision a pass of this engine wrote
	timer    ClockTimer
	retry    *time.Timer
	running  bool
	again    bool // kicked while a pass ran: run another
	takeover bool // the next pass carries out every step it finds
	awaiting map[string]bool
}

// RunScheduler fires the store's schedules until ctx ends. It needs a store
// that keeps schedules (ScheduleStore); foreman-engine runs it beside
// RunServices.
func RunScheduler(ctx context.Context, store Store, log *slog.Logger) error {
	ss, err := schedulesOf(store)
	if err != nil {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	engineClient := NewClient(store, ClientOptions{Identity: "foreman-engine"})
	s := &scheduleRunner{
		exec: &scheduleExec{store: store, ss: ss, client: func(id string) *Client {
			return engineClient.As(Acting{Principal: "schedule/" + id})
		}},
		clk: clockOf(store), log: log, ctx: ctx, sem: make(chan struct{}, schedulerParallel),
		entries: map[string]*schedEntry{},
	}
	for {
		caughtUp := false
		err = ss.WatchSchedules(ctx, func(id string, data []byte, rev uint64) {
			s.seen(id, data, rev, caughtUp)
		}, func() {
			caughtUp = true
			log.Info("scheduler watching schedules", "schedules", s.count())
		})
		if ctx.Err() != nil {
			s.stopAll()
			return ctx.Err()
		}
		// The watch broke (a lost connection, a leader change): watch
		// again; records seen before are skipped by revision.
		log.Warn("schedule watch ended; watching again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *scheduleRunner) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// seen takes a record from the watch: it (re)arms the schedule's timer
// and, when the record holds steps nobody has carried out, arranges to
// take them over.
func (s *scheduleRunner) seen(id string, data []byte, rev uint64, live bool) {
	s.mu.Lock()
	e := s.entries[id]
	if data == nil {
		if e != nil {
			e.stop()
			delete(s.entries, id)
		}
		s.mu.Unlock()
		return
	}
	if e == nil {
		e = &schedEntry{awaiting: map[string]bool{}}
		s.entries[id] = e
	}
	if rev <= e.rev {
		s.mu.Unlock()
		return
	}
	e.rev, e.data = rev, data
	// a record this engine's own pass wrote, or writes now: its steps are
	// being carried out here, nothing to take over
	ours := e.running || rev <= e.ownRev
	s.mu.Unlock()
	d, err := decodeSchedule(data, rev)
	if err != nil {
		s.log.Error("schedule record unreadable; it does not fire until rewritten", "schedule", id, "err", err)
		return
	}
	s.arm(id, d)
	if len(d.Pending) > 0 && !ours {
		if !live {
			s.kick(id, true) // left by an engine that stopped: ours now
		} else {
			s.retryLater(id, takeoverDelay)
		}
	}
}

// arm sets the schedule's timer at its next fire, and waits for its open
// run to close when fires are buffered behind it.
func (s *scheduleRunner) arm(id string, d *ScheduleDescription) {
	spec, err := compileSpec(id, d.Schedule.Spec)
	if err != nil {
		s.log.Error("schedule spec invalid; it does not fire until updated", "schedule", id, "err", err)
		return
	}
	var due time.Time
	if !d.Schedule.Paused && (!d.Schedule.LimitedActions || d.Schedule.RemainingActions > 0) {
		if t := spec.next(d.LastFire); !t.IsZero() {
			due = spec.due(t)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	if e == nil {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	if !due.IsZero() {
		e.timer = s.clk.AfterFunc(due.Sub(s.clk.Now()), func() { s.kick(id, false) })
	}
	if len(d.Buffered) > 0 {
		for _, r := range d.Running {
			if !e.awaiting[r.WorkflowID] {
				e.awaiting[r.WorkflowID] = true
				go s.awaitClose(id, r.WorkflowID)
			}
		}
	}
}

// awaitClose kicks the schedule when the run chain of workflowID closes:
// a buffered fire may start then.
func (s *scheduleRunner) awaitClose(id, workflowID string) {
	c := s.exec.client(id)
	for s.ctx.Err() == nil {
		err := c.GetResult(s.ctx, workflowID, "", nil)
		var wfErr *WorkflowError
		if err == nil || errors.As(err, &wfErr) || errors.Is(err, ErrWorkflowNotFound) {
			break
		}
		select { // the store failed: look again
		case <-s.ctx.Done():
		case <-time.After(time.Second):
		}
	}
	s.mu.Lock()
	if e := s.entries[id]; e != nil {
		delete(e.awaiting, workflowID)
	}
	s.mu.Unlock()
	s.kick(id, false)
}

// retryLater kicks the schedule after d on the wall clock, carrying out
// every step it still holds then.
func (s *scheduleRunner) retryLater(id string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	if e == nil {
		return
	}
	if e.retry != nil {
		e.retry.Stop()
	}
	e.retry = time.AfterFunc(d, func() { s.kick(id, true) })
}

// kick runs a pass of the schedule, one at a time per schedule.
func (s *scheduleRunner) kick(id string, takeover bool) {
	s.mu.Lock()
	e := s.entries[id]
	if e == nil || s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	e.takeover = e.takeover || takeover
	if e.running {
		e.again = true
		s.mu.Unlock()
		return
	}
	e.running = true
	s.mu.Unlock()
	release := s.clk.Hold() // a manual clock waits for the pass
	go func() {
		defer release()
		for {
			s.mu.Lock()
			take := e.takeover
			e.takeover, e.again = false, false
			s.mu.Unlock()
			s.sem <- struct{}{}
			s.pass(id, take)
			<-s.sem
			s.mu.Lock()
			if !e.again || s.ctx.Err() != nil {
				e.running = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}()
}

func (s *scheduleRunner) pass(id string, takeover bool) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	s.mu.Lock()
	var cached cachedRecord
	if e := s.entries[id]; e != nil {
		cached = cachedRecord{data: e.data, rev: e.rev}
	}
	s.mu.Unlock()
	d, fresh, err := s.exec.pass(ctx, id, s.clk.Now(), cached, nil)
	if err == nil && len(fresh) > 0 {
		s.mu.Lock()
		if e := s.entries[id]; e != nil {
			e.ownRev = max(e.ownRev, d.Revision)
		}
		s.mu.Unlock()
	}
	if errors.Is(err, ErrScheduleNotFound) || s.ctx.Err() != nil {
		return
	}
	if err != nil {
		s.log.Warn("schedule pass failed; retrying", "schedule", id, "err", err)
		s.retryLater(id, time.Second)
		return
	}
	steps := fresh
	if takeover {
		steps = d.Pending
	} else if len(d.Pending) > len(fresh) {
		// steps another engine decided: it carries them out, unless it
		// died, in which case they are ours after the delay
		s.retryLater(id, takeoverDelay)
	}
	if err := s.exec.carryOut(ctx, d, steps); err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("schedule step failed; retrying", "schedule", id, "err", err)
			s.retryLater(id, time.Second)
		}
		return
	}
	s.arm(id, d)
}

func (e *schedEntry) stop() {
	if e.timer != nil {
		e.timer.Stop()
	}
	if e.retry != nil {
		e.retry.Stop()
	}
}

func (s *scheduleRunner) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		e.stop()
	}
}
