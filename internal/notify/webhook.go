package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/foremanhq/foreman/internal/backoff"
	"github.com/foremanhq/foreman/jetstream"
)

// WebhookOptions bound the webhook senders.
type WebhookOptions struct {
	// Queue is how many posts may wait (default 256): when full, a new
	// one fails at once ("queue full") rather than wait.
	Queue int
	// Senders post concurrently (default 2).
	Senders int
	// Attempts per notification (default 6), spaced by Backoff (default 1s,
	// doubling, at most 1m).
	Attempts int
	Backoff  backoff.Policy
	// Timeout of one attempt (default 10s).
	Timeout time.Duration
}

const (
	webhookPending = "pending"
	webhookOK      = "ok"
	webhookFailed  = "failed"
)

// MetricNotifications counts notifications by outcome: published (NATS),
// nats_failed, webhook_ok, webhook_retried, webhook_failed.
const MetricNotifications = "foreman_notifications_total"

// Stats are the service's counters since start.
type Stats struct {
	Published, NATSFailed, WebhookOK, WebhookRetried, WebhookFailed atomic.Uint64
}

func (s *Stats) add(c *atomic.Uint64) { c.Add(1) }

// Collector exports the counters to Prometheus as MetricNotifications.
func (s *Stats) Collector() prometheus.Collector { return statsCollector{s} }

var notificationsDesc = prometheus.NewDesc(MetricNotifications,
	"Notifications of the rules (foreman notify), by outcome: published to NATS, nats_failed, webhook_ok, webhook_retried (an attempt failed, another follows), webhook_failed (gave up).",
	[]string{"outcome"}, nil)

type statsCollector struct{ s *Stats }

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- notificationsDesc }

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, o := range []struct {
		name string
		v    *atomic.Uint64
	}{{"published", &c.s.Published}, {"nats_failed", &c.s.NATSFailed}, {"webhook_ok", &c.s.WebhookOK},
		{"webhook_retried", &c.s.WebhookRetried}, {"webhook_failed", &c.s.WebhookFailed}} {
		ch <- prometheus.MustNewConstMetric(notificationsDesc, prometheus.CounterValue, float64(o.v.Load()), o.name)
	}
}

// hookJob is one notification to post; d and rev are its delivery record,
// updated (compare-and-swap) with each attempt's outcome.
type hookJob struct {
	url     string
	body    []byte
	d       jetstream.NotifyDelivery
	rev     uint64
	attempt int
}

// webhooks posts notifications from a bounded queue with a few senders;
// a failed attempt is queued again after its backoff by a timer, so a
// sender never sleeps and a receiver that hangs holds one sender for one
// attempt's timeout.
type webhooks struct {
	o     WebhookOptions
	store *jetstream.Notify
	stats *Stats
	log   *slog.Logger
	http  *http.Client
	queue chan hookJob

	mu      sync.Mutex
	stopped bool
	ctx     context.Context
	timers  map[*time.Timer]struct{}
}

func newWebhooks(o WebhookOptions, store *jetstream.Notify, st *Stats, log *slog.Logger) *webhooks {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Senders <= 0 {
		o.Senders = 2
	}
	if o.Attempts <= 0 {
		o.Attempts = 6
	}
	if o.Backoff.Initial <= 0 {
		o.Backoff = backoff.Policy{Initial: time.Second, Factor: 2, Max: time.Minute}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return &webhooks{o: o, store: store, stats: st, log: log, http: httpClient(o.Timeout),
		queue: make(chan hookJob, o.Queue), ctx: context.Background(), timers: map[*time.Timer]struct{}{}}
}

// start runs the senders until ctx ends or stop is called; stop waits
// for them.
func (w *webhooks) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	var wg sync.WaitGroup
	for range w.o.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-w.queue:
					w.attempt(ctx, j)
				}
			}
		}()
	}
	return func() {
		w.mu.Lock()
		w.stopped = true
		for t := range w.timers {
			t.Stop()
		}
		w.mu.Unlock()
		cancel()
		wg.Wait()
	}
}

// enqueue queues j without waiting; a full queue fails the notification's
// webhook at once.
func (w *webhooks) enqueue(j hookJob) {
	select {
	case w.queue <- j:
	default:
		w.finish(j, webhookFailed, "the webhook queue is full (a receiver too slow?)")
	}
}

func (w *webhooks) attempt(ctx context.Context, j hookJob) {
	j.attempt++
	err := w.post(ctx, j.url, j.body)
	if ctx.Err() != nil {
		return // shutting down: the record stays pending
	}
	if err == nil {
		w.finish(j, webhookOK, "")
		return
	}
	if j.attempt >= w.o.Attempts {
		w.finish(j, webhookFailed, err.Error())
		return
	}
	w.stats.add(&w.stats.WebhookRetried)
	j.d.WebhookAttempts, j.d.WebhookError, j.d.WebhookAt = j.attempt, err.Error(), time.Now().UTC()
	j.rev = w.record(ctx, j)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(w.o.Backoff.Delay(j.attempt), func() {
		w.mu.Lock()
		delete(w.timers, t)
		stopped := w.stopped
		w.mu.Unlock()
		if !stopped {
			w.enqueue(j)
		}
	})
	w.timers[t] = struct{}{}
}

// post sends body to url once; an answer other than 2xx is an error.
func (w *webhooks) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("posting to the webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "foreman-engine")
	resp, err := w.http.Do(req)
	if err != nil {
		return fmt.Errorf("posting to the webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}

func (w *webhooks) finish(j hookJob, outcome, why string) {
	if outcome == webhookOK {
		w.stats.add(&w.stats.WebhookOK)
	} else {
		w.stats.add(&w.stats.WebhookFailed)
		w.log.Warn("notification webhook failed", "rule", j.d.Rule, "run", j.d.RunID, "attempts", j.attempt, "err", why)
	}
	j.d.Webhook, j.d.WebhookAttempts, j.d.WebhookError, j.d.WebhookAt = outcome, j.attempt, why, time.Now().UTC()
	w.mu.Lock()
	ctx := w.ctx
	w.mu.Unlock()
	w.record(context.WithoutCancel(ctx), j)
}

// record writes j's delivery record and returns its new revision.
func (w *webhooks) record(ctx context.Context, j hookJob) uint64 {
	if w.store == nil {
		return j.rev
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rev, err := w.store.UpdateDelivery(ctx, j.d, j.rev)
	if err != nil {
		w.log.Warn("recording a webhook attempt", "rule", j.d.Rule, "run", j.d.RunID, "err", err)
		return j.rev
	}
	return rev
}
