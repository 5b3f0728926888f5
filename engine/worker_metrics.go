package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Worker-side metric names (WorkerOptions.MetricsRegisterer). Labels:
// queue and kind (workflow or activity): bounded, no run ids.
const (
	MetricWorkerTaskDuration    = "foreman_worker_task_duration_seconds"
	MetricWorkerScheduleToStart = "foreman_worker_task_schedule_to_start_seconds"
	MetricWorkerTasks           = "foreman_worker_tasks_total"
	MetricWorkerSlots           = "foreman_worker_slots"
	MetricWorkerSlotsInUse      = "foreman_worker_slots_in_use"
	// MetricWorkerHistoryEvents and MetricWorkerHistoryBytes: the size of
	// each run's history when a workflow task of this process closes it
	// (label queue; a run closed from outside, terminated, is not seen).
	MetricWorkerHistoryEvents = "foreman_worker_run_history_events"
	MetricWorkerHistoryBytes  = "foreman_worker_run_history_bytes"
)

// workerMetrics are the series of a process's workers. Workers sharing a
// registerer share the vectors (a second registration takes the first's),
// so several workers, even on one queue, add up rather than collide.
type workerMetrics struct {
	duration, s2s *prometheus.HistogramVec
	tasks         *prometheus.CounterVec
	slots, inUse  *prometheus.GaugeVec

	historyEvents, historyBytes *prometheus.HistogramVec
}

// latencyBuckets: 500 µs to 10 minutes in 24 buckets (a workflow task
// takes milliseconds, an activity up to minutes).
var latencyBuckets = prometheus.ExponentialBucketsRange(0.0005, 600, 24)

func newWorkerMetrics(r prometheus.Registerer) (*workerMetrics, error) {
	labels := []string{"queue", "kind"}
	var m workerMetrics
	var err error
	if m.duration, err = registerMetric(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricWorkerTaskDuration,
		Help:    "Time a worker spent on a task: a workflow task's replay and commands, an activity attempt's run and its report.",
		Buckets: latencyBuckets}, labels)); err != nil {
		return nil, err
	}
	if m.s2s, err = registerMetric(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricWorkerScheduleToStart,
		Help:    "Time a task waited in its queue, stored to taken by a worker (first deliveries).",
		Buckets: latencyBuckets}, labels)); err != nil {
		return nil, err
	}
	if m.tasks, err = registerMetric(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricWorkerTasks,
		Help: "Tasks handled by this process's workers."}, labels)); err != nil {
		return nil, err
	}
	if m.slots, err = registerMetric(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricWorkerSlots,
		Help: "Task slots of this process's running workers (MaxConcurrentWorkflowTasks, MaxConcurrentActivities)."}, labels)); err != nil {
		return nil, err
	}
	if m.inUse, err = registerMetric(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricWorkerSlotsInUse,
		Help: "Task slots in use."}, labels)); err != nil {
		return nil, err
	}
	if m.historyEvents, err = registerMetric(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricWorkerHistoryEvents,
		Help:    "Events in a run's history when this process's workflow task closed it.",
		Buckets: prometheus.ExponentialBuckets(4, 2, 15)}, []string{"queue"})); err != nil {
		return nil, err
	}
	if m.historyBytes, err = registerMetric(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricWorkerHistoryBytes,
		Help:    "Bytes of a run's history (its batches as stored) when this process's workflow task closed it.",
		Buckets: prometheus.ExponentialBuckets(256, 4, 12)}, []string{"queue"})); err != nil {
		return nil, err
	}
	return &m, nil
}

// registerMetric registers c, or returns the collector already registered under
// its name (another worker of the process).
func registerMetric[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	err := r.Register(c)
	var dup prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &dup):
		if prev, ok := dup.ExistingCollector.(C); ok {
			return prev, nil
		}
	}
	return c, fmt.Errorf("registering worker metrics: %w", err)
}

// measured wraps a task handler to observe its duration, schedule-to-start
// and slot in use; nil metrics: handle as is (metrics off cost nothing).
func (w *Worker) measured(kind TaskKind, nslots int, handle func(context.Context, Delivery)) func(context.Context, Delivery) {
	m := w.metrics
	if m == nil {
		return handle
	}
	k := "workflow"
	if kind == ActivityTaskKind {
		k = "activity"
	}
	duration, s2s := m.duration.WithLabelValues(w.queue, k), m.s2s.WithLabelValues(w.queue, k)
	tasks, inUse, slots := m.tasks.WithLabelValues(w.queue, k), m.inUse.WithLabelValues(w.queue, k), m.slots.WithLabelValues(w.queue, k)
	slots.Add(float64(nslots))
	w.stops = append(w.stops, func() { slots.Sub(float64(nslots)) })
	return func(ctx context.Context, d Delivery) {
		began := time.Now()
		var waited time.Duration = -1
		if sd, ok := d.(storedDelivery); ok && d.NumDelivered() == 1 {
			// The store's clock stamped the task: compare with it.
			if at := sd.Stored(); !at.IsZero() {
				waited = max(w.clock.Now().Sub(at), 0)
			}
		}
		var m taskMeasure
		inUse.Inc()
		handle(context.WithValue(ctx, taskMeasureKey{}, &m), d)
		inUse.Dec()
		if m.guard {
			return // an eager attempt's guard: measureEager counted the attempt
		}
		if waited >= 0 {
			s2s.Observe(waited.Seconds())
		}
		tasks.Inc()
		duration.Observe(time.Since(began).Seconds())
	}
}

// taskMeasure is what a handler tells measured about its delivery.
type taskMeasure struct {
	guard bool // the delivery was an eager attempt's guard, not a task of its own
}

type taskMeasureKey struct{}

// notMeasured tells measured that ctx's delivery is an eager attempt's
// guard: the attempt is counted once, by measureEager, and its guard is
// known only once the handler decoded it.
func notMeasured(ctx context.Context) {
	if m, ok := ctx.Value(taskMeasureKey{}).(*taskMeasure); ok {
		m.guard = true
	}
}

// observeLocalWorkflowTask counts a workflow task run in an activity's
// handler (reportLocally: no queue, so no schedule-to-start), begun at
// began; the activity's duration includes it.
func (w *Worker) observeLocalWorkflowTask(began time.Time) {
	if m := w.metrics; m != nil {
		m.duration.WithLabelValues(w.queue, "workflow").Observe(time.Since(began).Seconds())
		m.tasks.WithLabelValues(w.queue, "workflow").Inc()
	}
}

// measureEager counts an eager activity attempt (worker_eager.go: run
// where its workflow task scheduled it, never queued, so its
// schedule-to-start is 0) as measured counts a delivered one; call the
// returned func when it ends.
func (w *Worker) measureEager() (done func()) {
	m := w.metrics
	if m == nil {
		return func() {}
	}
	began := time.Now()
	m.s2s.WithLabelValues(w.queue, "activity").Observe(0)
	inUse := m.inUse.WithLabelValues(w.queue, "activity")
	inUse.Inc()
	return func() {
		inUse.Dec()
		m.tasks.WithLabelValues(w.queue, "activity").Inc()
		m.duration.WithLabelValues(w.queue, "activity").Observe(time.Since(began).Seconds())
	}
}

// observeClosedHistory records the size of a run's history as the
// worker's append closes it.
func (w *Worker) observeClosedHistory(env *workflowEnv) {
	if m := w.metrics; m != nil {
		m.historyEvents.WithLabelValues(w.queue).Observe(float64(env.lastEventID))
		m.historyBytes.WithLabelValues(w.queue).Observe(float64(env.historyBytes))
	}
}
