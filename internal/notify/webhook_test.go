package notify_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/foremanhq/foreman/internal/backoff"
	"github.com/foremanhq/foreman/internal/notify"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// A receiver answering 500 is retried with backoff until it answers 2xx;
// the failures are visible in the delivery record meanwhile, and one that
// never recovers ends "failed" after the attempts allowed.
func TestFailingWebhookIsRetriedWithBackoff(t *testing.T) {
	e := newEnv(t)
	flaky := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	down := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	svc, _ := e.service("engine", notify.WebhookOptions{Attempts: 4, Backoff: backoff.Policy{Initial: 200 * time.Millisecond, Factor: 2, Max: time.Second}})
	e.addRule(svc, map[string]any{"name": "flaky", "condition": "failed", "query": "workflow_id:flaky-*", "webhook": flaky.URL})
	e.addRule(svc, map[string]any{"name": "down", "condition": "failed", "query": "workflow_id:down-*", "webhook": down.URL})
	e.start(failing, "flaky-1")
	e.start(failing, "down-1")

	jstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		ds, err := e.bucket.Deliveries(e.ctx, "flaky")
		if err != nil || len(ds) != 1 || ds[0].Webhook != "ok" {
			return fmt.Errorf("flaky deliveries %+v (%v)", ds, err)
		}
		if ds[0].WebhookAttempts != 3 || ds[0].NATS != "ok" {
			return fmt.Errorf("flaky delivery %+v: want ok on attempt 3", ds[0])
		}
		return nil
	})
	flaky.mu.Lock()
	times := append([]time.Time(nil), flaky.times...)
	flaky.mu.Unlock()
	if len(times) != 3 {
		t.Fatalf("%d posts, want 3", len(times))
	}
	// The backoff doubles: ≥200ms, then ≥400ms.
	if g1, g2 := times[1].Sub(times[0]), times[2].Sub(times[1]); g1 < 200*time.Millisecond || g2 < 400*time.Millisecond {
		t.Errorf("gaps between attempts %v, %v: want ≥200ms then ≥400ms", g1, g2)
	}

	// While it fails, the record says so; then it gives up.
	sawRetrying := false
	jstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		ds, err := e.bucket.Deliveries(e.ctx, "down")
		if err != nil || len(ds) != 1 {
			return fmt.Errorf("down deliveries %+v (%v)", ds, err)
		}
		d := ds[0]
		if d.Webhook == "pending" && d.WebhookAttempts > 0 && d.WebhookError != "" {
			sawRetrying = true
		}
		if d.Webhook != "failed" || d.WebhookAttempts != 4 || d.WebhookError != "the webhook answered 500 Internal Server Error" {
			return fmt.Errorf("down delivery %+v", d)
		}
		return nil
	})
	if !sawRetrying {
		t.Error("the delivery never showed a failed attempt while retrying")
	}
	if got := svc.Stats.WebhookFailed.Load(); got != 1 {
		t.Errorf("webhook_failed counter %d, want 1", got)
	}
	if got := svc.Stats.WebhookRetried.Load(); got != 2+3 {
		t.Errorf("webhook_retried counter %d, want 5", got)
	}
}

// A receiver that hangs neither delays the engine's starts nor the
// notifications to NATS; the queue it fills fails the overflow at once.
func TestHangingWebhookDoesNotSlowTheEngine(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	hang := newReceiver(t, func(int, http.ResponseWriter, *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers

	// Start latency with the service evaluating a rule whose every
	// notification goes to the hanging receiver: before any run matches,
	// then with a post hanging and the queue full.
	svc, _ := e.service("engine", notify.WebhookOptions{Queue: 2, Senders: 1, Timeout: 30 * time.Second})
	e.addRule(svc, map[string]any{"name": "hang", "condition": "failed", "query": "workflow_id:hang-*", "webhook": hang.URL})
	baseline := e.measureStarts("base", 20)
	in := e.subscribe("fm.notify.hang")
	for i := range 6 {
		e.start(failing, fmt.Sprintf("hang-%d", i))
	}
	// Every NATS notification goes out while the first post hangs.
	jstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := len(in.byRun()); n != 6 {
			return fmt.Errorf("%d runs notified on NATS, want 6", n)
		}
		return nil
	})
	with := e.measureStarts("hanging", 20)
	t.Logf("start latency p50/max: %v/%v before, %v/%v with a webhook hanging and its queue full (2-core machine shared with other tests)",
		baseline[len(baseline)/2], baseline[len(baseline)-1], with[len(with)/2], with[len(with)-1])
	if p50 := with[len(with)/2]; p50 > 4*baseline[len(baseline)/2]+50*time.Millisecond {
		t.Errorf("start p50 %v with a hanging webhook, %v before", p50, baseline[len(baseline)/2])
	}
	// One post hangs in the sender, two wait in the queue, the other three
	// failed at once with the reason.
	jstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ds, err := e.bucket.Deliveries(e.ctx, "hang")
		if err != nil {
			return err
		}
		full := 0
		for _, d := range ds {
			if d.Webhook == "failed" && d.WebhookError == "the webhook queue is full (a receiver too slow?)" {
				full++
			}
		}
		if len(ds) != 6 || full != 3 {
			return fmt.Errorf("%d deliveries, %d failed as queue full, want 6 and 3", len(ds), full)
		}
		return nil
	})
}

// measureStarts starts n runs and returns their start latencies, sorted.
func (e *env) measureStarts(prefix string, n int) []time.Duration {
	e.t.Helper()
	out := make([]time.Duration, n)
	for i := range out {
		t0 := time.Now()
		e.start(approving, fmt.Sprintf("%s-%d", prefix, i))
		out[i] = time.Since(t0)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
