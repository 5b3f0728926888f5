package engine

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine/internal/clock"
	"golang.org/x/sync/errgroup"
)

// The timer service fires durable timers and heartbeat deadlines. Timers
// live in the store until fired; at start the service loads them all, so
// the ones that fell due while everything was down fire at once. Firing
// publishes a task, then deletes the timer: a crash in between fires it
// again, and the worker drops the duplicate against the run's state, so
// each timer is recorded in history exactly once, never before its due time.

type timerItem struct {
	at    time.Time
	due   time.Time // at before any retry moved it: what lateness is measured from
	seq   uint64    // store sequence (0 for heartbeat deadlines)
	key   string
	body  []byte
	index int
}

type timerHeap []*timerItem

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].key < h[j].key
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *timerHeap) Push(x any)   { it := x.(*timerItem); it.index = len(*h); *h = append(*h, it) }
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	it.index = -1
	return it
}

type timerService struct {
	store Store
	log   *slog.Logger
	late  *lateness // nil: metrics off (services_metrics.go)
	clock clock.Clock
	ctx   context.Context

	mu    sync.Mutex
	heap  timerHeap
	byKey map[string]*timerItem
	// alarm calls fireDue when the earliest timer falls due. It is armed
	// as a timer is set, not by a loop woken later, so a test clock knows
	// of every timer as soon as the store delivered it.
	alarm   clock.Timer
	alarmAt time.Time
	stopped bool
	firing  sync.WaitGroup // fire calls under way
}

// runTimers runs the timer service until ctx ends or one of its parts (the
// two watches) fails; then it stops the other and the alarm, and returns
// once all have stopped, timers being fired included.
func runTimers(ctx context.Context, s Store, log *slog.Logger, late *lateness) error {
	g, ctx := errgroup.WithContext(ctx)
	ts := &timerService{store: s, log: log, late: late, clock: clockOf(s), ctx: ctx, byKey: map[string]*timerItem{}}
	g.Go(func() error {
		return s.WatchTimers(ctx, func(t StoredTimer) {
			ts.set(&timerItem{at: t.FireAt, seq: t.Seq, key: "t:" + t.Key, body: t.Data})
		})
	})
	g.Go(func() error { return s.WatchHeartbeats(ctx, ts.onHeartbeat) })
	g.Go(func() error { <-ctx.Done(); ts.stop(); return ctx.Err() }) // the alarm stops with the service
	err := g.Wait()
	ts.firing.Wait()
	return err
}

// set adds or replaces the timer with the item's key.
func (ts *timerService) set(it *timerItem) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if old := ts.byKey[it.key]; old != nil && old.index >= 0 {
		heap.Remove(&ts.heap, old.index)
	}
	ts.byKey[it.key] = it
	heap.Push(&ts.heap, it)
	ts.armLocked()
}

func (ts *timerService) remove(key string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if old := ts.byKey[key]; old != nil {
		if old.index >= 0 {
			heap.Remove(&ts.heap, old.index)
		}
		delete(ts.byKey, key)
	}
	ts.armLocked()
}

// armLocked points the alarm at the earliest timer.
func (ts *timerService) armLocked() {
	if ts.stopped {
		return
	}
	if len(ts.heap) == 0 {
		if ts.alarm != nil {
			ts.alarm.Stop()
			ts.alarm = nil
		}
		return
	}
	at := ts.heap[0].at
	if ts.alarm != nil && ts.alarmAt.Equal(at) {
		return
	}
	if ts.alarm != nil {
		ts.alarm.Stop()
	}
	ts.alarm, ts.alarmAt = ts.clock.AfterFunc(clock.Until(ts.clock, at), ts.fireDue), at
}

func (ts *timerService) stop() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.stopped = true
	if ts.alarm != nil {
		ts.alarm.Stop()
	}
}

// onHeartbeat arms (or disarms) the heartbeat deadline of an attempt.
func (ts *timerService) onHeartbeat(key string, data []byte) {
	var rec heartbeatRecord
	if data == nil || json.Unmarshal(data, &rec) != nil || rec.Timeout <= 0 {
		ts.remove("h:" + key)
		return
	}
	in := &inbound{Kind: inboundActivityTimeout, Seq: rec.Seq, Attempt: rec.Attempt,
		Failure: &Failure{Type: "TimeoutError", Message: fmt.Sprintf("no heartbeat for %s", rec.Timeout), TimeoutType: "heartbeat"}}
	task, _ := json.Marshal(workflowTask{RunID: rec.RunID, WorkflowID: rec.WorkflowID, Inbound: in})
	body, _ := json.Marshal(storedTimerBody{Kind: WorkflowTaskKind, Queue: rec.WorkflowQueue,
		MsgID: fmt.Sprintf("hb-%s-%d-%d", rec.RunID, rec.Seq, rec.Attempt), Task: task})
	ts.set(&timerItem{at: rec.At.Add(rec.Timeout), key: "h:" + key, body: body})
}

// fireDue fires every timer that is due and re-arms the alarm.
func (ts *timerService) fireDue() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.stopped {
		return
	}
	if ts.alarm != nil {
		ts.alarm.Stop() // a stale alarm (replaced while it started) must not leave two armed
		ts.alarm = nil
	}
	now := ts.clock.Now()
	for len(ts.heap) > 0 && !ts.heap[0].at.After(now) {
		it := heap.Pop(&ts.heap).(*timerItem)
		delete(ts.byKey, it.key)
		release := ts.clock.Hold()
		ts.firing.Go(func() {
			defer release()
			ts.fire(ts.ctx, it)
		})
	}
	ts.armLocked()
}

// fire publishes the timer's task, then deletes the timer; on failure it
// is retried a second later.
func (ts *timerService) fire(ctx context.Context, it *timerItem) {
	var b storedTimerBody
	if err := json.Unmarshal(it.body, &b); err != nil {
		ts.log.Error("dropping unreadable timer", "key", it.key, "err", err)
		_ = ts.store.DeleteTimer(ctx, it.seq)
		return
	}
	if err := ts.store.PublishTask(ctx, b.Kind, b.Queue, b.Task, b.MsgID); err != nil {
		if ctx.Err() == nil {
			var run workflowTask // the run the timer is for, to say so
			_ = json.Unmarshal(b.Task, &run)
			ts.log.Warn("firing timer failed; retrying", "workflow_id", run.WorkflowID, "run_id", run.RunID, "queue", b.Queue, "key", it.key, "err", err)
			if it.due.IsZero() {
				it.due = it.at
			}
			it.at = ts.clock.Now().Add(time.Second)
			ts.set(it)
		}
		return
	}
	if ts.late != nil {
		ts.late.observe(it, ts.clock.Now())
	}
	if it.seq != 0 {
		if err := ts.store.DeleteTimer(ctx, it.seq); err != nil {
			ts.log.Warn("deleting fired timer failed (it will fire again, harmlessly)", "key", it.key, "err", err)
		}
	}
}

// RunServices runs the engine's background services on store until ctx
// ends: the dispatcher (history → tasks and timers), the timer service, and
// the start sweeper. Run exactly one per deployment... or several: every
// service is idempotent, so a second instance only costs work. When one
// service fails, the others are stopped; RunServices returns the failure
// once all have stopped (ctx.Err() when ctx ended).
func RunServices(ctx context.Context, store Store, log *slog.Logger) error {
	return RunServicesWith(ctx, store, ServicesOptions{Logger: log})
}

// RunServicesWith is RunServices with options (services_metrics.go).
func RunServicesWith(ctx context.Context, store Store, opts ServicesOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	late, err := newLateness(opts.MetricsRegisterer)
	if err != nil {
		return err
	}
	if r := opts.MetricsRegisterer; r != nil {
		if err := ObserveStore(store, r); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return runDispatcher(gctx, store, log.With("service", "dispatcher"), opts.EagerGuardDelay)
	})
	g.Go(func() error { return runTimers(gctx, store, log.With("service", "timers"), late) })
	g.Go(func() error { return sweepStarts(gctx, store, log.With("service", "starts")) })
	err = g.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
