package pulse

import (
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/latency"
)

// Hist is the shared latency histogram.
type Hist = latency.Hist

// Metric names: every figure the engine keeps is named once here, as the
// Prometheus metric issue 20 exports it under; the pulse API's JSON fields
// carry the same figures.
const (
	// Counters (the pulse view shows their per-second rates).
	MetricRunsStarted      = "foreman_runs_started_total"
	MetricRunsClosed       = "foreman_runs_closed_total" // label status
	MetricActivityFailures = "foreman_activity_failures_total"
	// Histograms (buckets: latency.Bound).
	MetricRunDuration     = "foreman_run_duration_seconds"               // start to close, closed runs
	MetricScheduleToStart = "foreman_activity_schedule_to_start_seconds" // stored to taken by a worker
	// MetricWorkflowScheduleToStart: a workflow task, stored to taken.
	MetricWorkflowScheduleToStart = "foreman_workflow_task_schedule_to_start_seconds"
	// Gauges (read when asked).
	MetricQueueTasks   = "foreman_task_queue_tasks"          // labels queue, kind
	MetricQueueOldest  = "foreman_task_queue_oldest_seconds" // label queue
	MetricQueueWorkers = "foreman_task_queue_workers"        // label queue
	MetricIndexLag     = "foreman_index_lag_seconds"
	MetricStuckRuns    = "foreman_stuck_runs" // label cause
)

// Window is how far back the per-second series go.
const Window = 5 * time.Minute

const slots = int(Window / time.Second)

// second holds what happened in one second of event time.
type second struct {
	unix        int64
	started     uint64
	closed      map[engine.Status]uint64
	actFailures uint64
	duration    Hist
	s2s, wfS2S  Hist
}

// Counters keeps the engine's rolling figures: per second of event time
// over the last Window, and totals since the engine started. It is fed
// with history events as the indexer applies them (Observe) and with the
// workers' schedule-to-start histograms (ObserveScheduleToStart). Safe
// for concurrent use.
type Counters struct {
	now func() time.Time

	mu   sync.Mutex
	ring [slots]second
	// Totals since start, of events no older than Window when observed
	// (a rebuild of the index replays old history: not counted).
	started     uint64
	closed      map[engine.Status]uint64
	actFailures uint64
	duration    Hist
	s2s, wfS2S  Hist
}

// NewCounters returns empty counters; now is the clock (nil: time.Now).
func NewCounters(now func() time.Time) *Counters {
	if now == nil {
		now = time.Now
	}
	return &Counters{now: now, closed: map[engine.Status]uint64{}}
}

// slot returns the second t falls in, or nil when it is outside the
// window (older, or more than a few seconds ahead: a skewed clock).
// Called with mu held.
func (c *Counters) slot(t time.Time, now time.Time) *second {
	u := t.Unix()
	if u <= now.Unix()-int64(slots) || u > now.Unix()+5 {
		return nil
	}
	s := &c.ring[u%int64(slots)]
	if s.unix != u {
		*s = second{unix: u}
	}
	return s
}

// Observe counts one run's events applied by the indexer; start is when
// the run started (zero if unknown), for the duration of a run that
// closes among them.
func (c *Counters) Observe(start time.Time, events []engine.Event) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range events {
		e := &events[i]
		switch e.Type {
		case engine.EventWorkflowStarted, engine.EventActivityAttemptFailed, engine.EventActivityFailed:
		default:
			if _, closes := engine.ClosingStatus(*e); !closes {
				continue
			}
		}
		s := c.slot(e.Time, now)
		if s == nil {
			continue
		}
		switch e.Type {
		case engine.EventWorkflowStarted:
			s.started++
			c.started++
			if start.IsZero() {
				start = e.Time
			}
		case engine.EventActivityAttemptFailed, engine.EventActivityFailed:
			s.actFailures++
			c.actFailures++
		default:
			st, _ := engine.ClosingStatus(*e)
			if s.closed == nil {
				s.closed = map[engine.Status]uint64{}
			}
			s.closed[st]++
			c.closed[st]++
			if !start.IsZero() {
				d := max(e.Time.Sub(start), 0)
				s.duration.Observe(d)
				c.duration.Observe(d)
			}
		}
	}
}

// ObserveScheduleToStart adds a worker's histograms of activity and
// workflow tasks (sparse, as its announcement carries them), counted at at.
func (c *Counters) ObserveScheduleToStart(at time.Time, act, wf []uint64) {
	if len(act) == 0 && len(wf) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.slot(at, c.now()); s != nil {
		s.s2s.AddSparse(act)
		s.wfS2S.AddSparse(wf)
	}
	c.s2s.AddSparse(act)
	c.wfS2S.AddSparse(wf)
}

// Series are per-second counts over the last n seconds, oldest first,
// ending with the last complete second.
type Series struct {
	Started, Completed, Failed, ActivityFailures []uint32
	End                                          time.Time // the end of the last second
}

// Series returns the last n seconds (at most Window).
func (c *Counters) Series(n int) Series {
	n = min(max(n, 1), slots-1)
	now := c.now()
	last := now.Unix() - 1
	out := Series{Started: make([]uint32, n), Completed: make([]uint32, n), Failed: make([]uint32, n), ActivityFailures: make([]uint32, n),
		End: time.Unix(last+1, 0)}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range n {
		u := last - int64(n-1-i)
		s := &c.ring[u%int64(slots)]
		if s.unix != u {
			continue
		}
		out.Started[i] = uint32(s.started)
		out.ActivityFailures[i] = uint32(s.actFailures)
		for st, k := range s.closed {
			switch {
			case st == engine.StatusCompleted:
				out.Completed[i] += uint32(k)
			case st == engine.StatusFailed:
				out.Failed[i] += uint32(k)
			}
		}
	}
	return out
}

// Latencies merges the run-duration and schedule-to-start (activity and
// workflow tasks) histograms of the last span.
func (c *Counters) Latencies(span time.Duration) (duration, s2s, wfS2S Hist) {
	now := c.now()
	n := min(int64(span/time.Second), int64(slots-1))
	c.mu.Lock()
	defer c.mu.Unlock()
	for u := now.Unix() - n; u <= now.Unix(); u++ {
		s := &c.ring[u%int64(slots)]
		if s.unix != u {
			continue
		}
		duration.Add(&s.duration)
		s2s.Add(&s.s2s)
		wfS2S.Add(&s.wfS2S)
	}
	return duration, s2s, wfS2S
}

// Totals are the counters since the engine started (what a Prometheus
// scrape reads).
type Totals struct {
	Started          uint64
	Closed           map[engine.Status]uint64
	ActivityFailures uint64
	Duration, S2S    Hist
	WorkflowS2S      Hist
}

// Totals returns a copy of the totals.
func (c *Counters) Totals() Totals {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := Totals{Started: c.started, ActivityFailures: c.actFailures, Duration: c.duration, S2S: c.s2s, WorkflowS2S: c.wfS2S, Closed: map[engine.Status]uint64{}}
	for k, v := range c.closed {
		t.Closed[k] = v
	}
	return t
}
