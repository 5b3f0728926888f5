package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics the engine's services and its store keep, beside the workers'
// (worker_metrics.go). Labels are bounded: no run ids.
const (
	// MetricTimerLateness: how long after its due time the engine fired a
	// durable timer (kind: timer for workflow timers, retries and
	// timeouts, heartbeat for heartbeat deadlines).
	MetricTimerLateness = "foreman_timer_lateness_seconds"
	// MetricStorePublish: a JetStream publish's round trip (op: history
	// for an append to a run's history, task for a task), as this
	// process's store made it.
	MetricStorePublish = "foreman_jetstream_publish_seconds"
	// MetricStorePublishErrors: publishes that failed, by op and reason
	// (conflict: an optimistic-concurrency check lost, which a workflow
	// task retries; too_large; timeout; other).
	MetricStorePublishErrors = "foreman_jetstream_publish_errors_total"
)

// ServicesOptions configure RunServicesWith.
type ServicesOptions struct {
	Logger *slog.Logger
	// MetricsRegisterer, when set, gets the services' metrics (timer
	// lateness) and, if the store reports its publishes (the jetstream
	// store does), their latency and errors.
	MetricsRegisterer prometheus.Registerer
	// EagerGuardDelay is how long the dispatcher waits for the outcome of
	// an activity attempt a worker runs eagerly before it stores the
	// attempt's guard task (dispatcher_hold.go): 0 means 2 s; negative
	// stores every guard at once (as before the delay existed).
	EagerGuardDelay time.Duration
}

// lateness observes fired timers; nil when metrics are off.
type lateness struct{ timer, heartbeat prometheus.Observer }

// timerBuckets: 1 ms to about 20 minutes (a timer fires within
// milliseconds of its due time, unless the engine was down).
var timerBuckets = prometheus.ExponentialBuckets(0.001, 2.5, 16)

func newLateness(r prometheus.Registerer) (*lateness, error) {
	if r == nil {
		return nil, nil
	}
	v, err := registerMetric(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricTimerLateness,
		Help:    "How long after its due time the engine fired a durable timer (a sleep, a retry, a timeout) or heartbeat deadline.",
		Buckets: timerBuckets}, []string{"kind"}))
	if err != nil {
		return nil, err
	}
	return &lateness{timer: v.WithLabelValues("timer"), heartbeat: v.WithLabelValues("heartbeat")}, nil
}

func (l *lateness) observe(it *timerItem, now time.Time) {
	due := it.due
	if due.IsZero() {
		due = it.at
	}
	o := l.timer
	if strings.HasPrefix(it.key, "h:") {
		o = l.heartbeat
	}
	o.Observe(max(now.Sub(due), 0).Seconds())
}

// PublishObserved is what a store offers to report its publishes (the
// jetstream Store does): fn is called after each, with what it was
// (history or task), how long it took and its error.
type PublishObserved interface {
	ObservePublishes(fn func(op string, took time.Duration, err error))
}

// ObserveStore registers the JetStream publish metrics on r and, if store
// reports its publishes, feeds them (a nil store only registers). Workers
// with MetricsRegisterer and RunServicesWith call it; several calls on
// one registerer share the series.
func ObserveStore(store Store, r prometheus.Registerer) error {
	took, err := registerMetric(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricStorePublish,
		Help:    "JetStream publish round trip, by what was published (history: a batch appended to a run's history; task).",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18)}, []string{"op"}))
	if err != nil {
		return err
	}
	failed, err := registerMetric(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricStorePublishErrors,
		Help: "JetStream publishes that failed, by op and reason (conflict: a concurrent append won, retried by the workflow task)."}, []string{"op", "reason"}))
	if err != nil {
		return err
	}
	// Every series at zero from the start, so that rate() and alerts see
	// them; the observers are looked up once, not on every publish.
	type opSeries struct {
		took   prometheus.Observer
		failed map[string]prometheus.Counter
	}
	series := map[string]*opSeries{}
	for _, op := range []string{"history", "task"} {
		o := &opSeries{took: took.WithLabelValues(op), failed: map[string]prometheus.Counter{}}
		for _, reason := range []string{"conflict", "too_large", "timeout", "other"} {
			o.failed[reason] = failed.WithLabelValues(op, reason)
		}
		series[op] = o
	}
	po, ok := store.(PublishObserved)
	if !ok {
		return nil
	}
	po.ObservePublishes(func(op string, d time.Duration, err error) {
		o := series[op]
		if o == nil {
			return
		}
		o.took.Observe(d.Seconds())
		if err != nil {
			o.failed[publishErrorReason(err)].Inc()
		}
	})
	return nil
}

// publishErrorReasons name the failures the error counter tells apart
// (any other is "other").
var publishErrorReasons = []struct {
	err    error
	reason string
}{{ErrConflict, "conflict"}, {ErrTooLarge, "too_large"}, {context.DeadlineExceeded, "timeout"}}

func publishErrorReason(err error) string {
	for _, r := range publishErrorReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "other"
}
