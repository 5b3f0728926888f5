package engine_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/enginetest"
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

// Retries follow the policy with exact attempt counts and backoff, in
// history and in when the attempts run (on the test clock).
func TestRetryBackoffExactAttempts(t *testing.T) {
	env := newTestEnv(t)
	var calls atomic.Int32
	var mu sync.Mutex
	var ranAt []time.Time
	flaky := func(ctx context.Context) (string, error) {
		n := calls.Add(1)
		mu.Lock()
		ranAt = append(ranAt, env.Now())
		mu.Unlock()
		if int(n) != engine.GetActivityInfo(ctx).Attempt {
			return "", errors.New("attempt number mismatch")
		}
		if n < 3 {
			return "", errors.New("transient")
		}
		return "ok", nil
	}
	policy := &engine.RetryPolicy{InitialInterval: time.Minute, BackoffCoefficient: 2, MaximumAttempts: 5}
	env.RegisterWorkflowWithName("Flaky", callOnce(engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second, RetryPolicy: policy}, "flaky"))
	env.RegisterActivityWithName("flaky", flaky)
	run := env.Start("Flaky", nil)
	var s string
	must(env.Result(run, &s))
	events := env.History(run)
	failed, final, finalAttempt := activityOutcomes(events)
	if len(failed) != 2 || failed[0] != 1 || failed[1] != 2 || final != engine.EventActivityCompleted || finalAttempt != 3 {
		t.Fatalf("attempts: failed %v, final %s at %d\n%s", failed, final, finalAttempt, dumpEvents(events))
	}
	// backoff: a minute after attempt 1, two after attempt 2
	var gaps []time.Duration
	for _, e := range events {
		if a, ok := e.Attrs.(*engine.ActivityAttemptFailed); ok {
			gaps = append(gaps, a.NextAttempt.Sub(e.Time))
		}
	}
	if gaps[0] != time.Minute || gaps[1] != 2*time.Minute {
		t.Fatalf("backoff %v, want [1m 2m]", gaps)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranAt) != 3 || ranAt[1].Sub(ranAt[0]) != time.Minute || ranAt[2].Sub(ranAt[1]) != 2*time.Minute {
		t.Fatalf("attempts ran at %v: want 1m then 2m apart", ranAt)
	}
}

func TestRetryExhaustedAndNonRetryable(t *testing.T) {
	env := newTestEnv(t)
	var calls, calls2 atomic.Int32
	policy := &engine.RetryPolicy{InitialInterval: time.Minute, MaximumAttempts: 3, NonRetryableErrorTypes: []string{"CardDeclined"}}
	opts := engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second, RetryPolicy: policy}
	env.RegisterWorkflowWithName("Always", callOnce(opts, "always"))
	env.RegisterWorkflowWithName("Declined", callOnce(opts, "declined"))
	env.RegisterActivityWithName("always", func(ctx context.Context) (string, error) {
		calls.Add(1)
		return "", errors.New("boom")
	})
	env.RegisterActivityWithName("declined", func(ctx context.Context) (string, error) {
		calls2.Add(1)
		return "", engine.NewApplicationError("CardDeclined", "card declined", false)
	})
	a := env.Start("Always", nil)
	d := env.Start("Declined", nil)
	err := env.Result(a, nil)
	var we *engine.WorkflowError
	if !errors.As(err, &we) || we.Status != engine.StatusFailed {
		t.Fatalf("want failed workflow, got %v", err)
	}
	failed, final, finalAttempt := activityOutcomes(env.History(a))
	if len(failed) != 2 || final != engine.EventActivityFailed || finalAttempt != 3 || calls.Load() != 3 {
		t.Fatalf("exhausted: failed %v final %s@%d calls %d", failed, final, finalAttempt, calls.Load())
	}
	err = env.Result(d, nil)
	var app *engine.ApplicationError
	if !errors.As(err, &app) || app.Type != "CardDeclined" {
		t.Fatalf("declined: %v", err)
	}
	failed, final, finalAttempt = activityOutcomes(env.History(d))
	if len(failed) != 0 || final != engine.EventActivityFailed || finalAttempt != 1 || calls2.Load() != 1 {
		t.Fatalf("non-retryable: failed %v final %s@%d calls %d", failed, final, finalAttempt, calls2.Load())
	}
}

// eventTime returns the time of the first event of type typ.
func eventTime(t *testing.T, events []engine.Event, typ engine.EventType) time.Time {
	t.Helper()
	for _, e := range events {
		if e.Type == typ {
			return e.Time
		}
	}
	t.Fatalf("no %s in history:\n%s", typ, dumpEvents(events))
	return time.Time{}
}

// waitStarted waits (in real time) for an activity to signal that it runs.
func waitStarted(t *testing.T, started <-chan struct{}) {
	t.Helper()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the activity never started")
	}
}

// Start-to-close: an attempt that overruns is failed as a timeout when its
// deadline passes, and retried.
func TestStartToCloseTimeout(t *testing.T) {
	env := newTestEnv(t)
	var calls atomic.Int32
	started := make(chan struct{}, 1)
	opts := engine.ActivityOptions{StartToCloseTimeout: time.Hour,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Minute, MaximumAttempts: 2}}
	env.RegisterWorkflowWithName("Slow", callOnce(opts, "slow"))
	env.RegisterActivityWithName("slow", func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			started <- struct{}{}
			return "", enginetest.WaitForTimeout(ctx) // only the deadline ends it
		}
		return "second", nil
	})
	run := env.Start("Slow", nil)
	waitStarted(t, started)
	env.Advance(59 * time.Minute)
	if n := count(env.History(run), engine.EventActivityAttemptFailed); n != 0 {
		t.Fatalf("the attempt timed out before its deadline:\n%s", dumpEvents(env.History(run)))
	}
	env.Advance(time.Minute)
	var s string
	must(env.Result(run, &s))
	events := env.History(run)
	for _, e := range events {
		if a, ok := e.Attrs.(*engine.ActivityAttemptFailed); ok {
			if a.Attempt != 1 || a.Failure.TimeoutType != "start_to_close" || s != "second" {
				t.Fatalf("attempt failure %+v, result %q", a.Failure, s)
			}
			if d := e.Time.Sub(eventTime(t, events, engine.EventActivityScheduled)); d != time.Hour {
				t.Fatalf("timed out %s after it was scheduled, want the 1h deadline", d)
			}
			return
		}
	}
	t.Fatalf("no timed-out attempt in history:\n%s", dumpEvents(events))
}

// Schedule-to-close bounds all attempts together: with retries at 1, 2, 4
// minutes, the fifth attempt would start past the 10 minutes, so the
// fourth failure is final.
func TestScheduleToCloseTimeout(t *testing.T) {
	env := newTestEnv(t)
	var calls atomic.Int32
	opts := engine.ActivityOptions{ScheduleToCloseTimeout: 10 * time.Minute, RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Minute}}
	env.RegisterWorkflowWithName("S2C", callOnce(opts, "fails"))
	env.RegisterActivityWithName("fails", func(ctx context.Context) (string, error) { calls.Add(1); return "", errors.New("nope") })
	run := env.Start("S2C", nil)
	if err := env.Result(run, nil); err == nil {
		t.Fatal("want failure")
	}
	events := env.History(run)
	_, final, finalAttempt := activityOutcomes(events)
	if final != engine.EventActivityFailed || finalAttempt != 4 || calls.Load() != 4 {
		t.Fatalf("final %s at attempt %d after %d calls, want ActivityFailed at 4\n%s", final, finalAttempt, calls.Load(), dumpEvents(events))
	}
	if d := eventTime(t, events, engine.EventActivityFailed).Sub(eventTime(t, events, engine.EventActivityScheduled)); d != 7*time.Minute {
		t.Fatalf("failed for good %s after scheduling, want 7m", d)
	}
}

// FM 12: a heartbeat timeout is enforced when the attempt stops
// heartbeating (the worker hangs or dies): the retry is dispatched about one
// heartbeat timeout later, long before start-to-close, and the next attempt
// reads the last heartbeat's details.
func TestHeartbeatTimeoutAndDetails(t *testing.T) {
	env := newTestEnv(t)
	var calls atomic.Int32
	resumedFrom := make(chan int, 1)
	opts := engine.ActivityOptions{StartToCloseTimeout: time.Hour, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3}}
	env.RegisterWorkflowWithName("HB", callOnce(opts, "hb"))
	env.RegisterActivityWithName("hb", func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			must(engine.RecordHeartbeat(ctx, 7))
			_ = enginetest.WaitForTimeout(ctx) // hangs: no more heartbeats
			return "late", nil
		}
		var from int
		engine.GetHeartbeatDetails(ctx, &from)
		resumedFrom <- from
		return "resumed", nil
	})
	run := env.Start("HB", nil)
	var s string
	must(env.Result(run, &s))
	if s != "resumed" {
		t.Fatalf("result %q: the late result of the timed-out attempt must be dropped", s)
	}
	if from := <-resumedFrom; from != 7 {
		t.Fatalf("next attempt read heartbeat details %d, want 7", from)
	}
	events := env.History(run)
	for _, e := range events {
		if a, ok := e.Attrs.(*engine.ActivityAttemptFailed); ok && a.Failure.TimeoutType == "heartbeat" {
			// the last heartbeat was written at most a throttle (1 s) after the call
			if d := e.Time.Sub(eventTime(t, events, engine.EventActivityScheduled)); d < 30*time.Second || d > 31*time.Second {
				t.Fatalf("heartbeat timeout fired %s after scheduling, want 30-31s", d)
			}
			return
		}
	}
	t.Fatalf("no heartbeat timeout in history:\n%s", dumpEvents(events))
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
