package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// attempts lists the attempt numbers recorded for activity seq 1.
func activityOutcomes(events []engine.Event) (failedAttempts []int, final engine.EventType, finalAttempt int) {
	for _, e := range events {
		switch a := e.Attrs.(type) {
		case *engine.ActivityAttemptFailed:
			failedAttempts = append(failedAttempts, a.Attempt)
		case *engine.ActivityCompleted:
			final, finalAttempt = e.Type, a.Attempt
		case *engine.ActivityFailed:
			final, finalAttempt = e.Type, a.Attempt
		}
	}
	return
}

func callOnce(opts engine.ActivityOptions, activity string) func(ctx engine.Context) (string, error) {
	return func(ctx engine.Context) (string, error) {
		var s string
		err := engine.ExecuteActivity(engine.WithActivityOptions(ctx, opts), activity, nil).Get(ctx, &s)
		return s, err
	}
}

// Retries follow the policy with exact attempt counts and backoff in history.
func TestRetryBackoffExactAttempts(t *testing.T) {
	h := newHarness(t)
	var calls atomic.Int32
	flaky := func(ctx context.Context) (string, error) {
		n := calls.Add(1)
		if int(n) != engine.GetActivityInfo(ctx).Attempt {
			return "", errors.New("attempt number mismatch")
		}
		if n < 3 {
			return "", errors.New("transient")
		}
		return "ok", nil
	}
	policy := &engine.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumAttempts: 5}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Flaky", callOnce(engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second, RetryPolicy: policy}, "flaky")))
		must(w.RegisterActivityWithName("flaky", flaky))
	})
	h.start("f", "q", "Flaky", nil)
	var s string
	h.mustResult("f", &s)
	events := h.history("f")
	failed, final, finalAttempt := activityOutcomes(events)
	if len(failed) != 2 || failed[0] != 1 || failed[1] != 2 || final != engine.EventActivityCompleted || finalAttempt != 3 {
		t.Fatalf("attempts: failed %v, final %s at %d\n%s", failed, final, finalAttempt, h.dump("f"))
	}
	// backoff: 100 ms after attempt 1, 200 ms after attempt 2
	var gaps []time.Duration
	for _, e := range events {
		if a, ok := e.Attrs.(*engine.ActivityAttemptFailed); ok {
			gaps = append(gaps, a.NextAttempt.Sub(e.Time))
		}
	}
	if gaps[0] != 100*time.Millisecond || gaps[1] != 200*time.Millisecond {
		t.Fatalf("backoff %v, want [100ms 200ms]", gaps)
	}
}

func TestRetryExhaustedAndNonRetryable(t *testing.T) {
	h := newHarness(t)
	var calls, calls2 atomic.Int32
	policy := &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 3, NonRetryableErrorTypes: []string{"CardDeclined"}}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		opts := engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second, RetryPolicy: policy}
		must(w.RegisterWorkflowWithName("Always", callOnce(opts, "always")))
		must(w.RegisterWorkflowWithName("Declined", callOnce(opts, "declined")))
		must(w.RegisterActivityWithName("always", func(ctx context.Context) (string, error) {
			calls.Add(1)
			return "", errors.New("boom")
		}))
		must(w.RegisterActivityWithName("declined", func(ctx context.Context) (string, error) {
			calls2.Add(1)
			return "", engine.NewApplicationError("CardDeclined", "card declined", false)
		}))
	})
	h.start("a", "q", "Always", nil)
	h.start("d", "q", "Declined", nil)
	err := h.result("a", nil)
	var we *engine.WorkflowError
	if !errors.As(err, &we) || we.Status != engine.StatusFailed {
		t.Fatalf("want failed workflow, got %v", err)
	}
	failed, final, finalAttempt := activityOutcomes(h.history("a"))
	if len(failed) != 2 || final != engine.EventActivityFailed || finalAttempt != 3 || calls.Load() != 3 {
		t.Fatalf("exhausted: failed %v final %s@%d calls %d", failed, final, finalAttempt, calls.Load())
	}
	err = h.result("d", nil)
	var app *engine.ApplicationError
	if !errors.As(err, &app) || app.Type != "CardDeclined" {
		t.Fatalf("declined: %v", err)
	}
	failed, final, finalAttempt = activityOutcomes(h.history("d"))
	if len(failed) != 0 || final != engine.EventActivityFailed || finalAttempt != 1 || calls2.Load() != 1 {
		t.Fatalf("non-retryable: failed %v final %s@%d calls %d", failed, final, finalAttempt, calls2.Load())
	}
}

// Start-to-close: an attempt that overruns is failed as a timeout and retried.
func TestStartToCloseTimeout(t *testing.T) {
	h := newHarness(t)
	var calls atomic.Int32
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		opts := engine.ActivityOptions{StartToCloseTimeout: 200 * time.Millisecond,
			RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2}}
		must(w.RegisterWorkflowWithName("Slow", callOnce(opts, "slow")))
		must(w.RegisterActivityWithName("slow", func(ctx context.Context) (string, error) {
			if calls.Add(1) == 1 {
				<-ctx.Done()
				return "", ctx.Err()
			}
			return "second", nil
		}))
	})
	h.start("s", "q", "Slow", nil)
	var s string
	h.mustResult("s", &s)
	events := h.history("s")
	for _, e := range events {
		if a, ok := e.Attrs.(*engine.ActivityAttemptFailed); ok {
			if a.Attempt != 1 || a.Failure.TimeoutType != "start_to_close" {
				t.Fatalf("attempt failure %+v", a.Failure)
			}
			return
		}
	}
	t.Fatalf("no timed-out attempt in history:\n%s", h.dump("s"))
}

// Schedule-to-close bounds all attempts together.
func TestScheduleToCloseTimeout(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		opts := engine.ActivityOptions{ScheduleToCloseTimeout: 300 * time.Millisecond, RetryPolicy: &engine.RetryPolicy{InitialInterval: 50 * time.Millisecond}}
		must(w.RegisterWorkflowWithName("S2C", callOnce(opts, "fails")))
		must(w.RegisterActivityWithName("fails", func(ctx context.Context) (string, error) { return "", errors.New("nope") }))
	})
	h.start("s", "q", "S2C", nil)
	if err := h.result("s", nil); err == nil {
		t.Fatal("want failure")
	}
	_, final, _ := activityOutcomes(h.history("s"))
	if final != engine.EventActivityFailed {
		t.Fatalf("final %s", final)
	}
}

// FM 12: a heartbeat timeout is enforced when the attempt stops
// heartbeating (the worker hangs or dies): the retry is dispatched about one
// heartbeat timeout later, long before start-to-close, and the next attempt
// reads the last heartbeat's details.
func TestHeartbeatTimeoutAndDetails(t *testing.T) {
	h := newHarness(t)
	var calls atomic.Int32
	resumedFrom := make(chan int, 1)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		opts := engine.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: 500 * time.Millisecond,
			RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 3}}
		must(w.RegisterWorkflowWithName("HB", callOnce(opts, "hb")))
		must(w.RegisterActivityWithName("hb", func(ctx context.Context) (string, error) {
			if calls.Add(1) == 1 {
				must(engine.RecordHeartbeat(ctx, 7))
				time.Sleep(1200 * time.Millisecond) // hangs: no more heartbeats
				return "late", nil
			}
			var from int
			engine.GetHeartbeatDetails(ctx, &from)
			resumedFrom <- from
			return "resumed", nil
		}))
	})
	start := time.Now()
	h.start("h", "q", "HB", nil)
	var s string
	h.mustResult("h", &s)
	if s != "resumed" {
		t.Fatalf("result %q: the late result of the timed-out attempt must be dropped", s)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s: heartbeat timeout not enforced", took)
	}
	if from := <-resumedFrom; from != 7 {
		t.Fatalf("next attempt read heartbeat details %d, want 7", from)
	}
	for _, e := range h.history("h") {
		if a, ok := e.Attrs.(*engine.ActivityAttemptFailed); ok && a.Failure.TimeoutType == "heartbeat" {
			return
		}
	}
	t.Fatalf("no heartbeat timeout in history:\n%s", h.dump("h"))
}

// FM 13: cancelling an activity reaches its context promptly and its late
// result is dropped.
func TestActivityCancellation(t *testing.T) {
	h := newHarness(t)
	cancelled := make(chan time.Time, 1)
	wf := func(ctx engine.Context) (string, error) {
		actx, cancel := engine.WithCancel(ctx)
		f := engine.ExecuteActivity(engine.WithActivityOptions(actx, engine.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: 5 * time.Second}), "long", nil)
		engine.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
		cancel()
		err := f.Get(ctx, nil)
		if !errors.Is(err, engine.ErrCanceled) {
			return "", err
		}
		return "cancelled", nil
	}
	started := make(chan struct{}, 1)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Cancel", wf))
		must(w.RegisterActivityWithName("long", func(ctx context.Context) (string, error) {
			started <- struct{}{}
			<-ctx.Done()
			cancelled <- time.Now()
			return "late", nil
		}))
	})
	h.start("c", "q", "Cancel", nil)
	<-started
	sent := time.Now()
	must(h.client.Signal(h.ctx, "c", "", "stop", nil))
	var s string
	h.mustResult("c", &s)
	select {
	case at := <-cancelled:
		if d := at.Sub(sent); d > 2*time.Second {
			t.Fatalf("cancellation reached the activity after %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("activity context never cancelled")
	}
	events := h.history("c")
	if count(events, engine.EventActivityCompleted) != 0 || count(events, engine.EventActivityCancelRequested) != 1 {
		t.Fatalf("history:\n%s", h.dump("c"))
	}
}

// MaxConcurrentActivities bounds the attempts a worker runs at once.
func TestActivityConcurrencyLimit(t *testing.T) {
	h := newHarness(t)
	var running, peak atomic.Int32
	wf := func(ctx engine.Context) error {
		ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		var fs []engine.Future
		for range 8 {
			fs = append(fs, engine.ExecuteActivity(ctx, "busy", nil))
		}
		for _, f := range fs {
			if err := f.Get(ctx, nil); err != nil {
				return err
			}
		}
		return nil
	}
	h.worker("q", engine.WorkerOptions{MaxConcurrentActivities: 2}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Fan", wf))
		must(w.RegisterActivityWithName("busy", func(ctx context.Context) error {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(50 * time.Millisecond)
			running.Add(-1)
			return nil
		}))
	})
	h.start("fan", "q", "Fan", nil)
	h.mustResult("fan", nil)
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrency %d, want 2", p)
	}
}

// A worker that stops gracefully hands its running attempt back with the
// newest heartbeat details (not the last throttled write), and the worker
// that takes it over resumes from there — even without a heartbeat timeout.
func TestHandBackKeepsNewestHeartbeatDetails(t *testing.T) {
	h := newHarness(t)
	var reached atomic.Int64
	var resumedFrom atomic.Int64
	resumedFrom.Store(-1)
	count := func(ctx context.Context, n int64) (int64, error) {
		var from int64
		if engine.GetHeartbeatDetails(ctx, &from) {
			resumedFrom.Store(from)
		}
		for i := from + 1; i <= n; i++ {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			reached.Store(i)
			_ = engine.RecordHeartbeat(ctx, i)
		}
		return n, nil
	}
	wf := func(ctx engine.Context, n int64) (int64, error) {
		var out int64
		err := engine.ExecuteActivity(ctx, "Count", n).Get(ctx, &out)
		return out, err
	}
	first := h.worker("q", engine.WorkerOptions{ShutdownTimeout: 50 * time.Millisecond}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Counter", wf))
		must(w.RegisterActivityWithName("Count", count))
	})
	h.start("count-1", "q", "Counter", 400)
	waitFor(t, "the first attempt to make progress", func() bool { return reached.Load() >= 50 })
	first.Stop()
	atStop := reached.Load()
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Counter", wf))
		must(w.RegisterActivityWithName("Count", count))
	})
	var out int64
	h.mustResult("count-1", &out)
	if got := resumedFrom.Load(); got < atStop-1 {
		t.Fatalf("the second worker resumed from %d, the first had reached %d when it handed the attempt back", got, atStop)
	}
}
