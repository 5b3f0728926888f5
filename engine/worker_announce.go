package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/foremanhq/foreman/internal/latency"
)

// Worker announcements: every running worker keeps an entry in the
// store's worker directory (identity, queue, what it runs, slots in use,
// version, when last seen), rewritten every AnnounceInterval and expiring
// a few intervals after the last write. The engine aggregates them (the
// console's :queues and :pulse), and `foreman show` says when no worker
// polls the queue a run waits on. Kept apart from the task paths: the hot
// path only counts slots and one latency.

// DefaultAnnounceInterval is how often a worker rewrites its announcement.
const DefaultAnnounceInterval = 5 * time.Second

// announceTTLFactor: an entry expires this many intervals after its last
// write (a worker missing one write, on a busy machine, stays listed).
const announceTTLFactor = 3

// WorkerAnnouncement is what a worker says about itself.
type WorkerAnnouncement struct {
	Identity   string   `json:"identity"`
	Queue      string   `json:"queue"`
	Workflows  []string `json:"workflows,omitempty"`
	Activities []string `json:"activities,omitempty"`
	// WorkflowSlots and ActivitySlots: tasks in flight, and the most the
	// worker takes at once (0 when it does not poll that kind).
	WorkflowSlots SlotUse `json:"workflow_slots"`
	ActivitySlots SlotUse `json:"activity_slots"`
	// Version is the worker binary's module version (WorkerOptions.Version).
	Version   string    `json:"version,omitempty"`
	StartedAt time.Time `json:"started_at"`
	LastSeen  time.Time `json:"last_seen"`
	// ExpiresAt is when the entry goes unless announced again.
	ExpiresAt time.Time `json:"expires_at"`
	// ScheduleToStart and WorkflowScheduleToStart count how long the
	// activity and workflow tasks the worker took since its previous
	// announcement waited in the queue, as (bucket, count) pairs of the
	// engine's latency buckets (internal/latency).
	ScheduleToStart         []uint64 `json:"schedule_to_start,omitempty"`
	WorkflowScheduleToStart []uint64 `json:"workflow_schedule_to_start,omitempty"`
}

// SlotUse is how many of a worker's task slots are busy.
type SlotUse struct {
	InUse int `json:"in_use"`
	Max   int `json:"max"`
}

// Polls tells whether the worker polls tasks of kind.
func (a *WorkerAnnouncement) Polls(kind TaskKind) bool {
	if kind == ActivityTaskKind {
		return a.ActivitySlots.Max > 0
	}
	return a.WorkflowSlots.Max > 0
}

// QueueBacklog is what a task queue holds: tasks waiting or in flight, and
// when the oldest was stored.
type QueueBacklog struct {
	Queue  string    `json:"queue"`
	Kind   TaskKind  `json:"kind"`
	Tasks  uint64    `json:"tasks"`
	Oldest time.Time `json:"oldest,omitzero"`
}

// WorkerDirectory is an optional addition to Store (the jetstream store
// has it): where workers announce themselves. A worker on a store without
// it simply does not announce.
type WorkerDirectory interface {
	// AnnounceWorker stores data under key, expiring after ttl.
	AnnounceWorker(ctx context.Context, key string, data []byte, ttl time.Duration) error
	// WithdrawWorker deletes key's entry.
	WithdrawWorker(ctx context.Context, key string) error
	// ListWorkers returns every current entry.
	ListWorkers(ctx context.Context) ([][]byte, error)
	// WatchWorkers calls fn with every entry, then each change (data nil
	// when an entry went), until ctx ends.
	WatchWorkers(ctx context.Context, fn func(key string, data []byte)) error
}

// announcer is a worker's part in the directory: slot counters the poll
// loops keep, the schedule-to-start histograms since the last write.
type announcer struct {
	key       string
	startedAt time.Time
	busyWF    atomic.Int64
	busyAct   atomic.Int64

	mu         sync.Mutex
	s2s, wfS2S latency.Hist
}

// storedDelivery is an optional addition to Delivery (the jetstream
// store's): when the store accepted the task, in the store's time.
type storedDelivery interface{ Stored() time.Time }

func newAnnouncer(queue string) *announcer {
	return &announcer{key: queue + "." + uuid.NewString()}
}

// counted wraps a task handler so that the slots in use, and how long
// tasks waited in the queue (by the store's clock), are known.
func (w *Worker) counted(kind TaskKind, handle func(context.Context, Delivery)) func(context.Context, Delivery) {
	a := w.ann
	busy, hist := &a.busyWF, &a.wfS2S
	if kind == ActivityTaskKind {
		busy, hist = &a.busyAct, &a.s2s
	}
	return func(ctx context.Context, d Delivery) {
		busy.Add(1)
		defer busy.Add(-1)
		if sd, ok := d.(storedDelivery); ok && d.NumDelivered() == 1 {
			// First deliveries only: a redelivery's wait includes the
			// attempt that failed to end it.
			if at := sd.Stored(); !at.IsZero() {
				waited := max(w.clock.Now().Sub(at), 0)
				if kind == ActivityTaskKind {
					// once the handler knows it is no eager attempt's
					// guard (the attempt counted itself: eagerTaken)
					ctx = context.WithValue(ctx, takenKey{}, func() { a.observe(hist, waited) })
				} else {
					a.observe(hist, waited)
				}
			}
		}
		handle(ctx, d)
	}
}

func (a *announcer) observe(h *latency.Hist, waited time.Duration) {
	a.mu.Lock()
	h.Observe(waited)
	a.mu.Unlock()
}

type takenKey struct{}

// taken observes the schedule-to-start of ctx's activity task (counted):
// the handler calls it once it knows the task is one to run, not the
// guard of an eager attempt.
func taken(ctx context.Context) {
	if observe, ok := ctx.Value(takenKey{}).(func()); ok {
		observe()
	}
}

// eagerTaken observes an eager attempt's schedule-to-start: 0, run where
// it was scheduled (its guard, if one is delivered, is not observed).
func (w *Worker) eagerTaken() { w.ann.observe(&w.ann.s2s, 0) }

// eagerStartTaken observes the schedule-to-start of a run's first workflow
// task taken where the run was started (local.go): 0, never queued.
func (w *Worker) eagerStartTaken() {
	w.ann.observe(&w.ann.wfS2S, 0)
	if m := w.metrics; m != nil {
		m.s2s.WithLabelValues(w.queue, "workflow").Observe(0)
	}
}

// takeS2S returns the schedule-to-start histograms since the last call.
func (a *announcer) takeS2S() (act, wf []uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	act, wf = a.s2s.Sparse(), a.wfS2S.Sparse()
	a.s2s, a.wfS2S = latency.Hist{}, latency.Hist{}
	return act, wf
}

// announcement is the worker's entry as of now.
func (w *Worker) announcement(now time.Time) WorkerAnnouncement {
	a := WorkerAnnouncement{Identity: w.opts.Identity, Queue: w.queue, Version: w.opts.Version,
		StartedAt: w.ann.startedAt, LastSeen: now, ExpiresAt: now.Add(announceTTLFactor * w.opts.AnnounceInterval)}
	a.ScheduleToStart, a.WorkflowScheduleToStart = w.ann.takeS2S()
	if len(w.reg.workflows) > 0 {
		a.Workflows = sortedKeys(w.reg.workflows)
		a.WorkflowSlots = SlotUse{InUse: int(w.ann.busyWF.Load()), Max: w.opts.MaxConcurrentWorkflowTasks}
	}
	if len(w.reg.activities) > 0 {
		a.Activities = sortedKeys(w.reg.activities)
		// The attempt slots count eager attempts too (started in the
		// worker without passing through the queue).
		a.ActivitySlots = SlotUse{InUse: max(int(w.ann.busyAct.Load()), len(w.actSlots)), Max: w.opts.MaxConcurrentActivities}
	}
	return a
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// announce writes the worker's entry now and every AnnounceInterval until
// ctx ends, then withdraws it (a clean stop; a killed worker's entry
// expires). It returns at once; done is closed when withdrawn.
func (w *Worker) announce(ctx context.Context) (done <-chan struct{}) {
	ch := make(chan struct{})
	dir, ok := w.store.(WorkerDirectory)
	if !ok || w.opts.AnnounceInterval < 0 {
		close(ch)
		return ch
	}
	w.ann.startedAt = w.clock.Now().UTC()
	// put writes the entry; false when the store has no directory (an
	// engine from before announcements): nothing to retry then.
	put := func() bool {
		now := w.clock.Now().UTC()
		data, _ := json.Marshal(w.announcement(now))
		c, cancel := context.WithTimeout(ctx, w.opts.AnnounceInterval)
		defer cancel()
		err := dir.AnnounceWorker(c, w.ann.key, data, announceTTLFactor*w.opts.AnnounceInterval)
		switch {
		case errors.Is(err, ErrNotFound):
			w.log.Info("the engine keeps no worker directory: this worker is not announced", "err", err)
			return false
		case err != nil && ctx.Err() == nil:
			w.log.Warn("announcing the worker failed; retrying", "err", err)
		}
		return true
	}
	if !put() { // listed from Start on, not an interval later
		close(ch)
		return ch
	}
	go func() {
		defer close(ch)
		t := time.NewTicker(w.opts.AnnounceInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				put()
			case <-ctx.Done():
				c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				if err := dir.WithdrawWorker(c, w.ann.key); err != nil {
					w.log.Warn("withdrawing the worker's announcement failed; it expires by itself", "err", err)
				}
				cancel()
				return
			}
		}
	}()
	return ch
}

// ListWorkers returns the announcements of the workers running now, by
// queue then identity. Entries the store still holds past their expiry
// (the server removes them within a second or so) are left out.
func (c *Client) ListWorkers(ctx context.Context) ([]WorkerAnnouncement, error) {
	dir, ok := c.store.(WorkerDirectory)
	if !ok {
		return nil, fmt.Errorf("listing workers: the store keeps no worker directory")
	}
	raw, err := dir.ListWorkers(ctx)
	if err != nil {
		return nil, err
	}
	return DecodeWorkers(raw, clockOf(c.store).Now()), nil
}

// DecodeWorkers decodes announcements, drops those expired at now and
// sorts them by queue then identity.
func DecodeWorkers(raw [][]byte, now time.Time) []WorkerAnnouncement {
	out := make([]WorkerAnnouncement, 0, len(raw))
	for _, b := range raw {
		var a WorkerAnnouncement
		if json.Unmarshal(b, &a) != nil || a.Queue == "" {
			continue
		}
		if !a.ExpiresAt.IsZero() && a.ExpiresAt.Before(now) {
			continue
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Queue != out[j].Queue {
			return out[i].Queue < out[j].Queue
		}
		return out[i].Identity < out[j].Identity
	})
	return out
}

// NoWorkerReason says what a running run waits for that no worker can
// give: "no worker polling queue X" for its workflow queue, or the queue
// of a pending activity, when polled says nobody takes that kind of task
// there; "" when every queue it needs is polled (or the run is closed, or
// an imported read-only copy that no worker is meant to run).
func NoWorkerReason(x *Execution, polled func(queue string, kind TaskKind) bool) string {
	if x == nil || x.Status != StatusRunning || x.Imported != nil {
		return ""
	}
	if x.TaskQueue != "" && !polled(x.TaskQueue, WorkflowTaskKind) {
		return "no worker polling queue " + x.TaskQueue
	}
	for _, p := range x.Activities {
		q := cmpOr(p.TaskQueue, x.TaskQueue)
		if !polled(q, ActivityTaskKind) {
			return "no worker polling queue " + q + " (activity " + p.ActivityType + ")"
		}
	}
	return ""
}

// PolledBy tells whether one of workers polls kind on queue (for
// NoWorkerReason).
func PolledBy(workers []WorkerAnnouncement) func(queue string, kind TaskKind) bool {
	return func(queue string, kind TaskKind) bool {
		for i := range workers {
			if workers[i].Queue == queue && workers[i].Polls(kind) {
				return true
			}
		}
		return false
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ClosingStatus is how an event closes its run, if it closes one.
func ClosingStatus(e Event) (Status, bool) {
	o, ok := closeOutcome(e)
	return o.status, ok
}

// moduleVersion is the version of the binary's main module, the default
// WorkerOptions.Version.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 && (v == "" || v == "(devel)") {
			v = "(devel) " + s.Value[:12]
		}
	}
	return v
}
