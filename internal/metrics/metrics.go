// Package metrics exports the engine's figures to Prometheus. It counts
// nothing itself: every figure has one owner, the rolling counters the
// indexer feeds and the health service of internal/pulse (what the
// console's :pulse shows), and a scrape reads them. So a scrape costs the
// engine nothing between scrapes, and the console and Prometheus never
// disagree.
package metrics

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/latency"
	"github.com/foremanhq/foreman/internal/pulse"
	"github.com/foremanhq/foreman/visibility/searchapi"
	"github.com/prometheus/client_golang/prometheus"
)

// Names of the figures exported beside pulse's (pulse.Metric*).
const (
	MetricWorkers         = "foreman_workers"
	MetricQueueSlots      = "foreman_task_queue_slots"          // labels queue, kind: the workers' capacity
	MetricQueueSlotsInUse = "foreman_task_queue_slots_in_use"   // labels queue, kind
	MetricQueueRunning    = "foreman_task_queue_running_runs"   // label queue
	MetricIndexBehind     = "foreman_index_behind_batches"      // history batches not yet indexed
	MetricIndexApplied    = "foreman_index_applied_seq"         // history position indexed: its rate is the indexing rate
	MetricIndexDocs       = "foreman_index_documents"           // runs in the index
	MetricScrapeErrors    = "foreman_metrics_read_errors_total" // figures a scrape could not read
)

// Health is what the exporter reads gauges from (pulse.Service): it caches
// its answer for about a second, so scrapes and consoles share one
// computation.
type Health interface {
	Pulse(ctx context.Context, req searchapi.PulseRequest) searchapi.Pulse
}

// Collector is a prometheus.Collector over the engine's counters and
// health figures.
type Collector struct {
	counters *pulse.Counters
	health   Health

	started, closed, actFailures *prometheus.Desc
	duration, s2s, wfS2S         *prometheus.Desc
	tasks, oldest, workersQ      *prometheus.Desc
	slots, slotsInUse, running   *prometheus.Desc
	workers, stuck               *prometheus.Desc
	lag, behind, applied, docs   *prometheus.Desc
	readErrors                   *prometheus.Desc
	errCount                     atomic.Uint64
	counts                       *indexCounts // deadletters.go
}

// New returns a collector over counters and health (either may be nil:
// its figures are left out).
func New(counters *pulse.Counters, health Health) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &Collector{
		counters:    counters,
		health:      health,
		started:     d(pulse.MetricRunsStarted, "Workflow runs started (history applied by this engine's index), by workflow type and queue.", "workflow_type", "queue"),
		closed:      d(pulse.MetricRunsClosed, "Workflow runs closed, by status (completed, failed, canceled, terminated, continued_as_new, reset, compensated), by workflow type and queue.", "workflow_type", "queue", "status"),
		actFailures: d(pulse.MetricActivityFailures, "Activity attempts that failed (each is retried or fails the activity): the retry rate."),
		duration:    d(pulse.MetricRunDuration, "Run duration, start to close, of closed runs (sum estimated from the buckets)."),
		s2s:         d(pulse.MetricScheduleToStart, "Activity tasks' schedule-to-start latency: stored to taken by a worker, first deliveries (sum estimated from the buckets)."),
		wfS2S:       d(pulse.MetricWorkflowScheduleToStart, "Workflow tasks' schedule-to-start latency (sum estimated from the buckets)."),
		tasks:       d(pulse.MetricQueueTasks, "Tasks stored on a queue (waiting or in flight): the backlog.", "queue", "kind"),
		oldest:      d(pulse.MetricQueueOldest, "Age of a queue's oldest stored task (0: none).", "queue"),
		workersQ:    d(pulse.MetricQueueWorkers, "Announced workers polling a queue, by task kind.", "queue", "kind"),
		slots:       d(MetricQueueSlots, "Task slots of the workers polling a queue (their capacity).", "queue", "kind"),
		slotsInUse:  d(MetricQueueSlotsInUse, "Task slots in use on a queue's workers.", "queue", "kind"),
		running:     d(MetricQueueRunning, "Running runs on a queue (from the index, refreshed every few seconds).", "queue"),
		workers:     d(MetricWorkers, "Announced workers."),
		stuck:       d(pulse.MetricStuckRuns, "Running runs without progress (by what they wait on, no_progress, or no_worker).", "cause"),
		lag:         d(pulse.MetricIndexLag, "Age of the oldest history batch the index has not applied (0: caught up)."),
		behind:      d(MetricIndexBehind, "History batches the index has not applied."),
		applied:     d(MetricIndexApplied, "History stream position the index applied (rate(): the indexing rate in batches/s)."),
		docs:        d(MetricIndexDocs, "Runs in the search index."),
		readErrors:  d(MetricScrapeErrors, "Figures a scrape could not read (the health service named an error)."),
		counts:      newIndexCounts(),
	}
}

// Bind sets the collector's sources once they run (the engine makes the
// collector before its indexer starts); call it before serving.
func (c *Collector) Bind(counters *pulse.Counters, health Health) {
	c.counters, c.health = counters, health
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.started, c.closed, c.actFailures, c.duration, c.s2s, c.wfS2S,
		c.tasks, c.oldest, c.workersQ, c.slots, c.slotsInUse, c.running, c.workers, c.stuck,
		c.lag, c.behind, c.applied, c.docs, c.readErrors, c.counts.desc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.counters != nil {
		t := c.counters.Totals()
		// By workflow type and queue: each kind's totals add up to the
		// engine's (pulse counts both at once).
		for k, kt := range t.ByKind {
			ch <- prometheus.MustNewConstMetric(c.started, prometheus.CounterValue, float64(kt.Started), k.WorkflowType, k.Queue)
			for _, st := range closedStatuses {
				ch <- prometheus.MustNewConstMetric(c.closed, prometheus.CounterValue, float64(kt.Closed[st]), k.WorkflowType, k.Queue, string(st))
			}
		}
		ch <- prometheus.MustNewConstMetric(c.actFailures, prometheus.CounterValue, float64(t.ActivityFailures))
		ch <- Histogram(c.duration, &t.Duration)
		ch <- Histogram(c.s2s, &t.S2S)
		ch <- Histogram(c.wfS2S, &t.WorkflowS2S)
	}
	var failed uint64
	if c.counts.collect(ch) {
		failed = 1
	}
	if c.health != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.collectHealth(ch, c.health.Pulse(ctx, searchapi.PulseRequest{Seconds: 1}), failed)
	}
}

// closedStatuses are exported even at zero, so that rate() sees a series
// from the first scrape.
var closedStatuses = []engine.Status{engine.StatusCompleted, engine.StatusFailed, engine.StatusCanceled,
	engine.StatusTerminated, engine.StatusContinuedAsNew, engine.StatusReset, engine.StatusCompensated}

func (c *Collector) collectHealth(ch chan<- prometheus.Metric, p searchapi.Pulse, otherErrors uint64) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, q := range p.Queues {
		gauge(c.tasks, float64(q.WorkflowTasks), q.Queue, "workflow")
		gauge(c.tasks, float64(q.ActivityTasks), q.Queue, "activity")
		gauge(c.oldest, q.OldestTaskMS/1000, q.Queue)
		gauge(c.workersQ, float64(q.WorkflowPollers), q.Queue, "workflow")
		gauge(c.workersQ, float64(q.ActivityPollers), q.Queue, "activity")
		var wf, act [2]int
		for _, w := range q.Workers {
			wf[0], wf[1] = wf[0]+w.WorkflowSlots[0], wf[1]+w.WorkflowSlots[1]
			act[0], act[1] = act[0]+w.ActivitySlots[0], act[1]+w.ActivitySlots[1]
		}
		gauge(c.slotsInUse, float64(wf[0]), q.Queue, "workflow")
		gauge(c.slots, float64(wf[1]), q.Queue, "workflow")
		gauge(c.slotsInUse, float64(act[0]), q.Queue, "activity")
		gauge(c.slots, float64(act[1]), q.Queue, "activity")
		gauge(c.running, float64(q.Running), q.Queue)
	}
	gauge(c.workers, float64(p.Workers))
	// The causes every engine has are exported at zero too, so that a
	// dashboard and an alert see a series before anything is stuck.
	stuck := map[string]uint64{"no_progress": 0, "no_worker": 0}
	for _, g := range p.Stuck {
		stuck[g.Value] += g.Count
	}
	for cause, n := range stuck {
		gauge(c.stuck, float64(n), cause)
	}
	gauge(c.lag, p.IndexLag.LagMS/1000)
	gauge(c.behind, float64(p.IndexLag.Behind))
	ch <- prometheus.MustNewConstMetric(c.applied, prometheus.CounterValue, float64(p.IndexLag.AppliedSeq))
	gauge(c.docs, float64(p.IndexLag.Docs))
	// Scrapes may run at once: the count is atomic.
	n := c.errCount.Add(uint64(len(p.Errors)) + otherErrors)
	ch <- prometheus.MustNewConstMetric(c.readErrors, prometheus.CounterValue, float64(n))
}

// Histogram turns a latency histogram into a Prometheus one: its buckets
// map onto "le" bounds (the last, unbounded bucket is +Inf). The
// histogram keeps no sum, so the sum is estimated from each bucket's
// middle (off by at most a bucket's width, 25 %).
func Histogram(d *prometheus.Desc, h *latency.Hist, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, latency.NumBuckets-1)
	var count uint64
	var sum float64
	lower := 0.0
	for i, n := range h {
		count += n
		if i == latency.NumBuckets-1 {
			sum += float64(n) * lower
			break
		}
		upper := latency.Bound(i).Seconds()
		sum += float64(n) * (lower + upper) / 2
		buckets[upper] = count
		lower = upper
	}
	if math.IsNaN(sum) {
		sum = 0
	}
	return prometheus.MustNewConstHistogram(d, count, sum, buckets, labels...)
}
