package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// sleepThenSignal sleeps, waits for signal "go", runs Echo with its payload.
func sleepThenSignal(ctx engine.Context) (string, error) {
	if err := engine.Sleep(ctx, time.Second); err != nil {
		return "", err
	}
	var v string
	engine.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	var out string
	err := engine.ExecuteActivity(engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second}), "Echo", v).Get(ctx, &out)
	return out, err
}

func (h *harness) describe(id string) *engine.Execution {
	h.t.Helper()
	x, err := h.client.Describe(h.ctx, id, "")
	if err != nil {
		h.t.Fatalf("describe %s: %v", id, err)
	}
	return x
}

// A paused run runs no code: the timer that falls due and the signal that
// arrives are recorded as they come and take effect on resume, once.
func TestPauseKeepsTimerAndSignalUntilResume(t *testing.T) {
	h := newHarness(t)
	var echoes atomic.Int32
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("SleepThenSignal", sleepThenSignal))
		must(w.RegisterActivityWithName("Echo", func(_ context.Context, s string) (string, error) { echoes.Add(1); return "echo " + s, nil }))
	})
	h.start("p1", "q", "SleepThenSignal", nil)
	h.waitForEvent("p1", engine.EventTimerStarted)
	if err := h.client.Pause(h.ctx, "p1", "", "maintenance"); err != nil {
		t.Fatal(err)
	}
	if err := h.client.Pause(h.ctx, "p1", "", "again"); !errors.Is(err, engine.ErrPauseState) {
		t.Fatalf("pausing a paused run: %v, want ErrPauseState", err)
	}
	if err := h.client.Signal(h.ctx, "p1", "", "go", "now"); err != nil {
		t.Fatal(err)
	}
	h.waitForEvent("p1", engine.EventTimerFired) // recorded while paused
	time.Sleep(300 * time.Millisecond)
	x := h.describe("p1")
	if x.Paused == nil || x.Paused.By != "tester" || x.Paused.Reason != "maintenance" || x.Paused.At.IsZero() {
		t.Fatalf("paused = %+v, want by tester for maintenance", x.Paused)
	}
	events := h.history("p1")
	if n := count(events, engine.EventActivityScheduled); n != 0 || echoes.Load() != 0 {
		t.Fatalf("a paused run scheduled %d activities:\n%s", n, dumpEvents(events))
	}
	pausedAt := 0
	for i, e := range events {
		if e.Type == engine.EventWorkflowPaused {
			pausedAt = i
		}
	}
	if n := count(events[pausedAt:], engine.EventWorkflowTaskCompleted); n != 0 {
		t.Fatalf("%d workflow tasks ran while paused:\n%s", n, dumpEvents(events))
	}
	if err := h.client.Unpause(h.ctx, "p1", "", "done"); err != nil {
		t.Fatal(err)
	}
	var out string
	h.mustResult("p1", &out)
	events = h.history("p1")
	checkHistory(t, events)
	if out != "echo now" || count(events, engine.EventTimerFired) != 1 || count(events, engine.EventSignalReceived) != 1 || echoes.Load() != 1 {
		t.Fatalf("result %q, %d echoes:\n%s", out, echoes.Load(), dumpEvents(events))
	}
	if x := h.describe("p1"); x.Paused != nil {
		t.Fatalf("a resumed run still shows paused: %+v", x.Paused)
	}
}

// failing fails until ok is set, counting its attempts.
type failing struct {
	calls atomic.Int32
	ok    atomic.Bool
}

func (f *failing) run(ctx context.Context) (string, error) {
	f.calls.Add(1)
	if !f.ok.Load() {
		return "", engine.NewApplicationError("CardDeclined", "card declined", false)
	}
	return "charged", nil
}

func callWith(opts engine.ActivityOptions) func(ctx engine.Context) (string, error) {
	return func(ctx engine.Context) (string, error) {
		var s string
		err := engine.ExecuteActivity(engine.WithActivityOptions(ctx, opts), "Charge", nil).Get(ctx, &s)
		return s, err
	}
}

// waitAttemptFailed waits for the n-th failed attempt in id's history.
func (h *harness) waitAttemptFailed(id string, n int) {
	h.t.Helper()
	waitFor(h.t, "failed attempts", func() bool {
		events, err := h.client.History(h.ctx, id, "")
		return err == nil && count(events, engine.EventActivityAttemptFailed) >= n
	})
}

// Retry-now runs the next attempt at once, not after the hour's backoff.
func TestActivityRetryNowSkipsBackoff(t *testing.T) {
	h := newHarness(t)
	f := &failing{}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Pay", callWith(engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second,
			RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Hour}})))
		must(w.RegisterActivityWithName("Charge", f.run))
	})
	h.start("r1", "q", "Pay", nil)
	h.waitAttemptFailed("r1", 1)
	f.ok.Store(true)
	acted, err := h.client.OperateActivity(h.ctx, "r1", "", engine.ActivityOperationRequest{Op: engine.ActivityOpRetry, Activity: "Charge", Reason: "card fixed"})
	if err != nil || len(acted) != 1 || acted[0].Attempt != 2 {
		t.Fatalf("retry: %v %+v", err, acted)
	}
	var out string
	h.mustResult("r1", &out)
	if out != "charged" || f.calls.Load() != 2 {
		t.Fatalf("result %q after %d calls", out, f.calls.Load())
	}
	// nothing left to retry on a closed run
	if _, err := h.client.OperateActivity(h.ctx, "r1", "", engine.ActivityOperationRequest{Op: engine.ActivityOpRetry}); !errors.Is(err, engine.ErrRunClosed) {
		t.Fatalf("retry on a closed run: %v", err)
	}
}

// An activity completed or failed by hand moves the workflow on, and
// history records who did it and why.
func TestActivityCompleteAndFailByHand(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Pay", callWith(engine.ActivityOptions{StartToCloseTimeout: time.Minute})))
		must(w.RegisterActivityWithName("Charge", func(ctx context.Context) (string, error) {
			<-ctx.Done() // hangs until cancelled
			return "", ctx.Err()
		}))
	})
	for _, c := range []struct {
		id  string
		req engine.ActivityOperationRequest
	}{
		{"c1", engine.ActivityOperationRequest{Op: engine.ActivityOpComplete, Result: json.RawMessage(`"by hand"`), Reason: "charged by phone"}},
		{"c2", engine.ActivityOperationRequest{Op: engine.ActivityOpFail, Failure: &engine.Failure{Type: "Fraud", Message: "blocked"}, Reason: "fraud team"}},
	} {
		h.start(c.id, "q", "Pay", nil)
		h.waitForEvent(c.id, engine.EventActivityScheduled)
		if _, err := h.client.OperateActivity(h.ctx, c.id, "", c.req); err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		var out string
		err := h.result(c.id, &out)
		var op *engine.ActivityOperation
		for _, e := range h.history(c.id) {
			if a, ok := e.Attrs.(*engine.ActivityOperation); ok {
				op = a
			}
		}
		if op == nil || op.Identity != "tester" || op.Reason != c.req.Reason || op.Op != c.req.Op {
			t.Fatalf("%s: operation recorded as %+v", c.id, op)
		}
		switch c.req.Op {
		case engine.ActivityOpComplete:
			if err != nil || out != "by hand" {
				t.Fatalf("c1: result %q, %v", out, err)
			}
		default:
			if err == nil || !strings.Contains(err.Error(), "Fraud: blocked") {
				t.Fatalf("c2: %v, want the activity's Fraud error", err)
			}
		}
	}
}

// update-options changes the next attempt's timeout: the second attempt
// takes 1.5 s, more than the first's 1 s allows (it would fail the run,
// out of attempts), less than the updated 20 s.
func TestActivityUpdateOptionsNextAttempt(t *testing.T) {
	h := newHarness(t)
	var calls atomic.Int32
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Pay", callWith(engine.ActivityOptions{StartToCloseTimeout: time.Second,
			RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Hour, MaximumAttempts: 2}})))
		must(w.RegisterActivityWithName("Charge", func(ctx context.Context) (string, error) {
			if calls.Add(1) == 1 {
				return "", errors.New("transient")
			}
			time.Sleep(1500 * time.Millisecond)
			return "ok", nil
		}))
	})
	h.start("u1", "q", "Pay", nil)
	h.waitAttemptFailed("u1", 1)
	up := &engine.ActivityOptionsUpdate{StartToCloseTimeout: 20 * time.Second}
	if _, err := h.client.OperateActivity(h.ctx, "u1", "", engine.ActivityOperationRequest{Op: engine.ActivityOpUpdate, Options: up}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.OperateActivity(h.ctx, "u1", "", engine.ActivityOperationRequest{Op: engine.ActivityOpRetry}); err != nil {
		t.Fatal(err)
	}
	var out string
	h.mustResult("u1", &out)
	if out != "ok" || calls.Load() != 2 {
		t.Fatalf("%q after %d calls", out, calls.Load())
	}
}

// Retries exhausted under the pause policy leave the run paused as a dead
// letter; an activity retry later completes it. The queue's default does
// the same, and a reset of attempts retries too.
func TestDeadLetterThenRetryCompletes(t *testing.T) {
	h := newHarness(t)
	f, g := &failing{}, &failing{}
	policy := &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2, PauseOnExhaustion: true}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Pay", callWith(engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second, RetryPolicy: policy})))
		must(w.RegisterActivityWithName("Charge", f.run))
	})
	h.worker("dq", engine.WorkerOptions{PauseOnRetriesExhausted: true}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Pay", callWith(engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second,
			RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2}})))
		must(w.RegisterActivityWithName("Charge", g.run))
	})
	for _, c := range []struct {
		id, queue string
		f         *failing
		op        string
	}{{"d1", "q", f, engine.ActivityOpRetry}, {"d2", "dq", g, engine.ActivityOpReset}} {
		h.start(c.id, c.queue, "Pay", nil)
		h.waitForEvent(c.id, engine.EventWorkflowPaused)
		time.Sleep(200 * time.Millisecond)
		x := h.describe(c.id)
		if x.Status != engine.StatusRunning || x.Paused == nil || !x.Paused.DeadLetter || x.Paused.ActivityType != "Charge" ||
			x.Paused.Failure == nil || x.Paused.Failure.Type != "CardDeclined" || len(x.Activities) != 1 || !x.Activities[0].DeadLettered {
			t.Fatalf("%s: %s paused %+v activities %+v\n%s", c.id, x.Status, x.Paused, x.Activities, h.dump(c.id))
		}
		if n := c.f.calls.Load(); n != 2 {
			t.Fatalf("%s: %d attempts, want 2 then the dead letter", c.id, n)
		}
		c.f.ok.Store(true)
		if _, err := h.client.OperateActivity(h.ctx, c.id, "", engine.ActivityOperationRequest{Op: c.op, Activity: "Charge", Reason: "fix deployed"}); err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		var out string
		h.mustResult(c.id, &out)
		if out != "charged" || c.f.calls.Load() != 3 {
			t.Fatalf("%s: %q after %d calls", c.id, out, c.f.calls.Load())
		}
	}
}

// A paused activity's attempt falls due and is held; unpausing it runs it.
func TestActivityPauseHoldsAttempt(t *testing.T) {
	h := newHarness(t)
	f := &failing{}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Pay", callWith(engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second,
			RetryPolicy: &engine.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 1}})))
		must(w.RegisterActivityWithName("Charge", f.run))
	})
	h.start("a1", "q", "Pay", nil)
	h.waitAttemptFailed("a1", 1)
	if _, err := h.client.OperateActivity(h.ctx, "a1", "", engine.ActivityOperationRequest{Op: engine.ActivityOpPause}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a held attempt", func() bool {
		x := h.describe("a1")
		return len(x.Activities) == 1 && x.Activities[0].Held && x.Activities[0].Paused
	})
	n := f.calls.Load()
	time.Sleep(700 * time.Millisecond)
	if f.calls.Load() != n {
		t.Fatalf("a paused activity ran: %d calls, then %d", n, f.calls.Load())
	}
	f.ok.Store(true)
	if _, err := h.client.OperateActivity(h.ctx, "a1", "", engine.ActivityOperationRequest{Op: engine.ActivityOpUnpause}); err != nil {
		t.Fatal(err)
	}
	h.mustResult("a1", new(string))
}

// A running attempt learns of the pause through its context and may
// finish; its result is kept for the resume.
func TestRunningActivityLearnsOfPause(t *testing.T) {
	h := newHarness(t)
	started := make(chan struct{})
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Pay", callWith(engine.ActivityOptions{StartToCloseTimeout: 20 * time.Second})))
		must(w.RegisterActivityWithName("Charge", func(ctx context.Context) (string, error) {
			close(started)
			for !engine.ActivityPaused(ctx) {
				select {
				case <-ctx.Done():
					return "", ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
			return "stopped at a good point", nil
		}))
	})
	h.start("l1", "q", "Pay", nil)
	<-started
	if err := h.client.Pause(h.ctx, "l1", "", "drain"); err != nil {
		t.Fatal(err)
	}
	h.waitForEvent("l1", engine.EventActivityCompleted) // recorded while paused
	if x := h.describe("l1"); x.Status != engine.StatusRunning || x.Paused == nil {
		t.Fatalf("the run moved on while paused: %s", x.Status)
	}
	must(h.client.Unpause(h.ctx, "l1", "", ""))
	var out string
	h.mustResult("l1", &out)
	if out != "stopped at a good point" {
		t.Fatalf("result %q", out)
	}
}
