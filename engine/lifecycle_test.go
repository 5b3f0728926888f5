package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Cancellation reaches the workflow's context; cleanup runs on a
// disconnected context and the run ends canceled.
func TestCancelWorkflowWithCleanup(t *testing.T) {
	h := newHarness(t)
	cleaned := make(chan struct{}, 1)
	wf := func(ctx engine.Context) error {
		err := engine.Sleep(ctx, time.Hour)
		if !errors.Is(err, engine.ErrCanceled) {
			return fmt.Errorf("sleep returned %v", err)
		}
		dctx, _ := engine.NewDisconnectedContext(ctx)
		dctx = engine.WithActivityOptions(dctx, engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
		if err := engine.ExecuteActivity(dctx, "cleanup", nil).Get(dctx, nil); err != nil {
			return err
		}
		return err
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Cancellable", wf))
		must(w.RegisterActivityWithName("cleanup", func(ctx context.Context) error { cleaned <- struct{}{}; return nil }))
	})
	h.start("c", "q", "Cancellable", nil)
	h.waitForEvent("c", engine.EventTimerStarted)
	must(h.client.Cancel(h.ctx, "c", "", "customer asked"))
	err := h.result("c", nil)
	var we *engine.WorkflowError
	if !errors.As(err, &we) || we.Status != engine.StatusCanceled {
		t.Fatalf("want canceled, got %v\n%s", err, h.dump("c"))
	}
	<-cleaned
	events := h.history("c")
	if count(events, engine.EventTimerCanceled) != 1 || count(events, engine.EventWorkflowCancelRequested) != 1 {
		t.Fatalf("history:\n%s", h.dump("c"))
	}
}

func TestTerminate(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Expense", approvalFlow(0))) })
	h.start("t", "q", "Expense", nil)
	h.waitForEvent("t", engine.EventApprovalRequested)
	must(h.client.Terminate(h.ctx, "t", "", "duplicate order"))
	x, err := h.client.Describe(h.ctx, "t", "")
	if err != nil || x.Status != engine.StatusTerminated || x.Failure.Message != "duplicate order" || len(x.Approvals) != 0 {
		t.Fatalf("%+v %v", x, err)
	}
	if err := h.client.Terminate(h.ctx, "t", "", "again"); !errors.Is(err, engine.ErrRunClosed) {
		t.Fatalf("terminate twice: %v", err)
	}
	last := h.history("t")
	if by := last[len(last)-1].Attrs.(*engine.WorkflowTerminated).Identity; by != "tester" {
		t.Fatalf("terminated by %q", by)
	}
}

func TestUnknownWorkflowID(t *testing.T) {
	h := newHarness(t)
	for name, err := range map[string]error{
		"signal":    h.client.Signal(h.ctx, "nope", "", "x", nil),
		"cancel":    h.client.Cancel(h.ctx, "nope", "", ""),
		"terminate": h.client.Terminate(h.ctx, "nope", "", ""),
	} {
		if !errors.Is(err, engine.ErrWorkflowNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := h.client.Describe(h.ctx, "nope", ""); !errors.Is(err, engine.ErrWorkflowNotFound) {
		t.Errorf("describe: %v", err)
	}
	if _, err := h.client.Query(h.ctx, "nope", "", "x", nil); !errors.Is(err, engine.ErrWorkflowNotFound) {
		t.Errorf("query: %v", err)
	}
}

// FM 11: concurrent starts with one id make exactly one run; the id can be
// reused once the run closed, per policy.
func TestConcurrentStartsAndIDReuse(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, registerThreeSteps)
	var wg sync.WaitGroup
	var mu sync.Mutex
	runs, already := map[string]bool{}, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run, err := h.client.Start(h.ctx, engine.StartOptions{ID: "dup", TaskQueue: "q"}, ThreeSteps, order{ID: "d"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				runs[run.RunID] = true
			case errors.Is(err, engine.ErrAlreadyStarted):
				already++
			default:
				t.Errorf("start: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(runs) != 1 || already != 19 {
		t.Fatalf("%d runs started, %d refused", len(runs), already)
	}
	h.mustResult("dup", nil)
	if _, err := h.client.Start(h.ctx, engine.StartOptions{ID: "dup", TaskQueue: "q", IDReusePolicy: engine.AllowDuplicateFailedOnly}, ThreeSteps, order{}); !errors.Is(err, engine.ErrAlreadyStarted) {
		t.Fatalf("failed-only policy after completion: %v", err)
	}
	run2, err := h.client.Start(h.ctx, engine.StartOptions{ID: "dup", TaskQueue: "q"}, ThreeSteps, order{ID: "e"})
	if err != nil || runs[run2.RunID] {
		t.Fatalf("reuse after close: %v", err)
	}
	h.mustResult("dup", nil)
	if _, err := h.client.Start(h.ctx, engine.StartOptions{ID: "dup", TaskQueue: "q", IDReusePolicy: engine.RejectDuplicate}, ThreeSteps, order{}); !errors.Is(err, engine.ErrAlreadyStarted) {
		t.Fatalf("reject policy: %v", err)
	}
}

// Signed, the engine's client signs the signal its start batch carries.
func TestSignalWithStart(t *testing.T) { plainAndSigned(t, signalWithStart) }

func signalWithStart(t *testing.T, h *harness) {
	wf := func(ctx engine.Context) (string, error) {
		var a, b string
		ch := engine.GetSignalChannel(ctx, "go")
		ch.Receive(ctx, &a)
		ch.Receive(ctx, &b)
		return a + b, nil
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("SWS", wf)) })
	opts := engine.StartOptions{ID: "sws", TaskQueue: "q"}
	r1, err := h.client.SignalWithStart(h.ctx, opts, "SWS", nil, "go", "x")
	must(err)
	r2, err := h.client.SignalWithStart(h.ctx, opts, "SWS", nil, "go", "y")
	must(err)
	if r1.RunID != r2.RunID {
		t.Fatalf("second signal-with-start started another run")
	}
	var s string
	h.mustResult("sws", &s)
	if s != "xy" {
		t.Fatalf("%q", s)
	}
}

// FM 9: oversized payloads are refused with a clear error and write nothing.
func TestOversizedPayloads(t *testing.T) {
	h := newHarness(t)
	big := strings.Repeat("x", engine.MaxPayloadBytes+10)
	_, err := h.client.Start(h.ctx, engine.StartOptions{ID: "big", TaskQueue: "q"}, "Any", big)
	if err == nil || !strings.Contains(err.Error(), engine.CodePayloadTooLarge) {
		t.Fatalf("start: %v", err)
	}
	if _, err := h.client.Describe(h.ctx, "big", ""); !errors.Is(err, engine.ErrWorkflowNotFound) {
		t.Fatalf("a refused start left a run: %v", err)
	}
	// An activity whose result is too large fails non-retryably; no partial history.
	wf := func(ctx engine.Context) error {
		return engine.ExecuteActivity(engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second}), "huge", nil).Get(ctx, nil)
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Huge", wf))
		must(w.RegisterActivityWithName("huge", func(ctx context.Context) (string, error) { return big, nil }))
	})
	h.start("h", "q", "Huge", nil)
	err = h.result("h", nil)
	if err == nil || !strings.Contains(err.Error(), engine.CodePayloadTooLarge) {
		t.Fatalf("huge result: %v", err)
	}
	events := h.history("h")
	checkHistory(t, events)
	if n := count(events, engine.EventActivityAttemptFailed); n != 0 {
		t.Fatalf("payload refusal was retried %d times", n)
	}
	if err := h.client.Signal(h.ctx, "h", "", "s", big); err == nil || !strings.Contains(err.Error(), engine.CodePayloadTooLarge) {
		t.Fatalf("huge signal: %v", err)
	}
}

// Graceful shutdown interrupts unfinished activity attempts: each is
// recorded as stopped (every execution has its own attempt number), and
// another worker runs the next attempt.
func TestShutdownHandsBackActivities(t *testing.T) {
	h := newHarness(t)
	started := make(chan struct{}, 1)
	wf := func(ctx engine.Context) (string, error) {
		var s string
		err := engine.ExecuteActivity(engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: time.Minute}), "work", nil).Get(ctx, &s)
		return s, err
	}
	w1 := h.worker("q", engine.WorkerOptions{ShutdownTimeout: 200 * time.Millisecond}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Handoff", wf))
		must(w.RegisterActivityWithName("work", func(ctx context.Context) (string, error) {
			started <- struct{}{}
			<-ctx.Done()
			return "first worker", ctx.Err()
		}))
	})
	h.start("handoff", "q", "Handoff", nil)
	<-started
	w1.Stop()
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Handoff", wf))
		must(w.RegisterActivityWithName("work", func(ctx context.Context) (string, error) { return "second worker", nil }))
	})
	var s string
	h.mustResult("handoff", &s)
	events := h.history("handoff")
	if ends, attempts := attemptsOf(events); s != "second worker" || len(ends) != 2 ||
		ends[0] != engine.FailureWorkerStopped || attempts[0] != 1 || ends[1] != "ok" || attempts[1] != 2 {
		t.Fatalf("result %q, attempts %v %v\n%s", s, ends, attempts, h.dump("handoff"))
	}
}
