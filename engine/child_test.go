package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// childWorkers registers the parents and children of these tests on "q".
func childWorkers(h *harness, extra func(w *engine.Worker)) {
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Double", func(ctx engine.Context, n int) (int, error) { return 2 * n, nil }))
		// Waiter runs until signalled "finish" (or cancelled).
		must(w.RegisterWorkflowWithName("Waiter", func(ctx engine.Context) (string, error) {
			var s string
			sel := engine.NewSelector(ctx)
			sel.AddReceive(engine.GetSignalChannel(ctx, "finish"), func(c engine.Channel, more bool) { c.Receive(ctx, &s) })
			sel.AddReceive(ctx.Done(), func(engine.Channel, bool) {})
			sel.Select(ctx)
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "finished " + s, nil
		}))
		if extra != nil {
			extra(w)
		}
	})
}

func TestChildCompletesAndParentGetsResult(t *testing.T) {
	h := newHarness(t)
	childWorkers(h, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context, n int) (int, error) {
			f := engine.ExecuteChildWorkflow(ctx, "Double", n, engine.ChildWorkflowOptions{ID: "kid"})
			var run engine.Run
			if err := f.GetChildWorkflowExecution().Get(ctx, &run); err != nil {
				return 0, err
			}
			if run.WorkflowID != "kid" || run.RunID == "" {
				return 0, fmt.Errorf("start gave %+v", run)
			}
			var r int
			err := f.Get(ctx, &r)
			return r + 1, err
		}))
	})
	h.start("dad", "q", "Parent", 20)
	var got int
	h.mustResult("dad", &got)
	if got != 41 {
		t.Fatalf("parent result %d, want 41", got)
	}
	events := h.history("dad")
	checkHistory(t, events)
	for _, typ := range []engine.EventType{engine.EventStartChildWorkflowRequested, engine.EventChildWorkflowStarted, engine.EventChildWorkflowCompleted} {
		if n := count(events, typ); n != 1 {
			t.Fatalf("%d %s events, want 1:\n%s", n, typ, dumpEvents(events))
		}
	}
	kid, err := h.client.Describe(h.ctx, "kid", "")
	if err != nil {
		t.Fatal(err)
	}
	if kid.Parent == nil || kid.Parent.WorkflowID != "dad" || kid.Parent.RootWorkflowID != "dad" || kid.Status != engine.StatusCompleted {
		t.Fatalf("child %+v, parent %+v", kid.Status, kid.Parent)
	}
	dad, _ := h.client.Describe(h.ctx, "dad", "")
	if len(dad.Children) != 1 || dad.Children[0].WorkflowID != "kid" || dad.Children[0].Status != engine.StatusCompleted {
		t.Fatalf("parent's children %+v", dad.Children)
	}
}

func TestChildFailsAndRetries(t *testing.T) {
	h := newHarness(t)
	var attempts atomic.Int32
	childWorkers(h, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Flaky", func(ctx engine.Context) (string, error) {
			if !engine.IsReplaying(ctx) && attempts.Add(1) < 3 {
				return "", errors.New("not yet")
			}
			if engine.IsReplaying(ctx) {
				return "", errors.New("replayed a closed run")
			}
			return "ok", nil
		}))
		must(w.RegisterWorkflowWithName("Broken", func(ctx engine.Context) error {
			return engine.NewApplicationError("Broken", "always", false)
		}))
		must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context, child string) (string, error) {
			var rp *engine.RetryPolicy
			if child == "Flaky" {
				rp = &engine.RetryPolicy{InitialInterval: 20 * time.Millisecond, MaximumAttempts: 5}
			}
			var r string
			err := engine.ExecuteChildWorkflow(ctx, child, nil, engine.ChildWorkflowOptions{ID: "kid-" + child, RetryPolicy: rp}).Get(ctx, &r)
			return r, err
		}))
	})
	h.start("retry", "q", "Parent", "Flaky")
	var got string
	h.mustResult("retry", &got)
	events := h.history("retry")
	if got != "ok" || count(events, engine.EventChildWorkflowAttemptFailed) != 2 || count(events, engine.EventChildWorkflowCompleted) != 1 {
		t.Fatalf("result %q after %d attempts:\n%s", got, attempts.Load(), dumpEvents(events))
	}
	h.start("broken", "q", "Parent", "Broken")
	err := h.result("broken", nil)
	var we *engine.WorkflowError
	if !errors.As(err, &we) || we.Status != engine.StatusFailed {
		t.Fatalf("parent of a failing child: %v", err)
	}
	events = h.history("broken")
	if count(events, engine.EventChildWorkflowFailed) != 1 || count(events, engine.EventChildWorkflowAttemptFailed) != 0 {
		t.Fatalf("a child without retry policy:\n%s", dumpEvents(events))
	}
}

// A parent that closes leaves its open child terminated, cancelled or
// running, as the child's parent close policy says.
func TestParentClosePolicies(t *testing.T) {
	plainAndSigned(t, func(t *testing.T, h *harness) {
		childWorkers(h, func(w *engine.Worker) {
			must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context, policy engine.ParentClosePolicy) error {
				f := engine.ExecuteChildWorkflow(ctx, "Waiter", nil, engine.ChildWorkflowOptions{ID: "kid-" + string(policy), ParentClosePolicy: policy})
				return f.GetChildWorkflowExecution().Get(ctx, nil) // then complete, the child still running
			}))
		})
		want := map[engine.ParentClosePolicy]engine.Status{
			engine.ParentCloseTerminate: engine.StatusTerminated, engine.ParentCloseRequestCancel: engine.StatusCanceled, engine.ParentCloseAbandon: engine.StatusRunning,
		}
		for policy := range want {
			h.start("dad-"+string(policy), "q", "Parent", policy)
			h.mustResult("dad-"+string(policy), nil)
		}
		for policy, status := range want {
			id := "kid-" + string(policy)
			waitFor(t, id+" "+string(status), func() bool {
				x, err := h.client.Describe(h.ctx, id, "")
				return err == nil && x.Status == status
			})
		}
		// the abandoned child lives on, and finishes on its own
		time.Sleep(100 * time.Millisecond)
		if x, _ := h.client.Describe(h.ctx, "kid-abandon", ""); x.Status != engine.StatusRunning {
			t.Fatalf("abandoned child %s", x.Status)
		}
		must(h.client.Signal(h.ctx, "kid-abandon", "", "finish", "alone"))
		var r string
		h.mustResult("kid-abandon", &r)
		if x, _ := h.client.Describe(h.ctx, "kid-terminate", ""); x.Failure == nil || x.Failure.Message != "parent dad-terminate closed (parent close policy terminate)" {
			t.Fatalf("terminated child's failure %+v", x.Failure)
		}
		if ev := h.history("kid-request_cancel"); count(ev, engine.EventWorkflowCancelRequested) != 1 {
			t.Fatalf("cancelled child:\n%s", dumpEvents(ev))
		}
	})
}

// Cancelling a parent cancels the context its child was started with: the
// child is asked to cancel, and the parent sees it close, canceled.
func TestCancelPropagatesToChild(t *testing.T) {
	h := newHarness(t)
	childWorkers(h, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context, policy engine.ParentClosePolicy) error {
			return engine.ExecuteChildWorkflow(ctx, "Waiter", nil, engine.ChildWorkflowOptions{ID: "kid-" + string(policy), ParentClosePolicy: policy}).Get(ctx, nil)
		}))
	})
	h.start("dad", "q", "Parent", engine.ParentCloseRequestCancel)
	h.waitForEvent("dad", engine.EventChildWorkflowStarted)
	must(h.client.Cancel(h.ctx, "dad", "", "stop all"))
	err := h.result("dad", nil)
	var we *engine.WorkflowError
	if !errors.As(err, &we) || we.Status != engine.StatusCanceled {
		t.Fatalf("parent: %v\n%s", err, h.dump("dad"))
	}
	if x, _ := h.client.Describe(h.ctx, "kid-request_cancel", ""); x.Status != engine.StatusCanceled {
		t.Fatalf("child %s\n%s", x.Status, h.dump("kid-request_cancel"))
	}
	events := h.history("dad")
	if count(events, engine.EventChildWorkflowCancelRequested) != 1 || count(events, engine.EventChildWorkflowFailed) != 1 {
		t.Fatalf("parent history:\n%s", dumpEvents(events))
	}

	// an abandoned child is not cancelled with its parent
	h.start("dad2", "q", "Parent", engine.ParentCloseAbandon)
	h.waitForEvent("dad2", engine.EventChildWorkflowStarted)
	must(h.client.Cancel(h.ctx, "dad2", "", "stop"))
	// The policy is applied when the parent's close is derived: wait for
	// the close, then give the dispatcher time to (wrongly) act on it.
	if err := h.result("dad2", nil); !errors.As(err, &we) || we.Status != engine.StatusCanceled {
		t.Fatalf("dad2: %v\n%s", err, h.dump("dad2"))
	}
	time.Sleep(200 * time.Millisecond)
	if x, _ := h.client.Describe(h.ctx, "kid-abandon", ""); x.Status != engine.StatusRunning || x.CancelRequested {
		t.Fatalf("abandoned child %s (cancel requested %v)", x.Status, x.CancelRequested)
	}
}

func TestSignalExternalWorkflow(t *testing.T) {
	plainAndSigned(t, func(t *testing.T, h *harness) {
		childWorkers(h, func(w *engine.Worker) {
			must(w.RegisterWorkflowWithName("Sender", func(ctx engine.Context, target string) (string, error) {
				if err := engine.SignalExternalWorkflow(ctx, target, "", "finish", "from sender").Get(ctx, nil); err != nil {
					return err.Error(), nil
				}
				return "sent", nil
			}))
		})
		h.start("target", "q", "Waiter", nil)
		h.start("sender", "q", "Sender", "target")
		var r string
		h.mustResult("sender", &r)
		if r != "sent" {
			t.Fatalf("sender: %s", r)
		}
		h.mustResult("target", &r)
		if r != "finished from sender" {
			t.Fatalf("target: %s", r)
		}
		events := h.history("target")
		if count(events, engine.EventSignalReceived) != 1 {
			t.Fatalf("target history:\n%s", dumpEvents(events))
		}
		for _, e := range events {
			if s, ok := e.Attrs.(*engine.SignalReceived); ok && s.Identity != "workflow:sender" {
				t.Fatalf("signal recorded as from %q", s.Identity)
			}
		}
		h.start("sender2", "q", "Sender", "nobody")
		h.mustResult("sender2", &r)
		if !strings.Contains(r, "not found") {
			t.Fatalf("a signal to nobody: %s", r)
		}
	})
}

// A crash between a child's run record and the rest of its start (the
// dispatcher redelivers the parent's command) yields exactly one child.
func TestChildStartCrashYieldsOneChild(t *testing.T) {
	var crashes atomic.Int32
	engine.SetChildStartHook(func(string) error {
		if crashes.Add(1) <= 2 {
			return errors.New("crash after the child's record")
		}
		return nil
	})
	t.Cleanup(func() { engine.SetChildStartHook(nil) })
	h := newHarness(t)
	var runs atomic.Int32
	childWorkers(h, countedChild(&runs, "once"))
	h.start("dad", "q", "Parent", nil)
	var r int
	h.mustResult("dad", &r)
	if crashes.Load() < 3 {
		t.Fatalf("the hook ran %d times: the crash was not redone", crashes.Load())
	}
	events := h.history("dad")
	var req *engine.StartChildWorkflowRequested
	for _, e := range events {
		if a, ok := e.Attrs.(*engine.StartChildWorkflowRequested); ok {
			req = a
		}
	}
	kid, err := h.client.Describe(h.ctx, "once", "")
	if err != nil || req == nil {
		t.Fatal(err)
	}
	if r != 7 || runs.Load() != 1 || kid.RunID != req.RunID || count(events, engine.EventChildWorkflowStarted) != 1 || count(events, engine.EventChildWorkflowCompleted) != 1 {
		t.Fatalf("result %d, child code ran %d times, child run %s (requested %s):\n%s", r, runs.Load(), kid.RunID, req.RunID, dumpEvents(events))
	}
}

// Resetting a parent: the new run carries on the children the kept history
// started (they are not stopped, and their close reaches the new run); the
// old run's close applies the policy only to children started after the
// reset point.
func TestResetParentKeepsItsChildren(t *testing.T) {
	h := newHarness(t)
	childWorkers(h, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context) (string, error) {
			f := engine.ExecuteChildWorkflow(ctx, "Waiter", nil, engine.ChildWorkflowOptions{ID: "kept"})
			if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
				return "", err
			}
			engine.GetSignalChannel(ctx, "more").Receive(ctx, nil)
			late := engine.ExecuteChildWorkflow(ctx, "Waiter", nil, engine.ChildWorkflowOptions{ID: "late"})
			if err := late.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
				return "", err
			}
			var r string
			err := f.Get(ctx, &r)
			return r, err
		}))
	})
	h.start("dad", "q", "Parent", nil)
	h.waitForEvent("dad", engine.EventChildWorkflowStarted)
	events := h.history("dad")
	resetTo := events[len(events)-1].ID // the task that recorded the child's start
	must(h.client.Signal(h.ctx, "dad", "", "more", nil))
	waitFor(t, "the late child", func() bool {
		return count(h.history("dad"), engine.EventChildWorkflowStarted) == 2
	})
	kept, _ := h.client.Describe(h.ctx, "kept", "")
	if _, err := h.client.Reset(h.ctx, "dad", "", engine.ResetOptions{To: fmt.Sprint(resetTo), Reason: "redo"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the late child terminated", func() bool {
		x, err := h.client.Describe(h.ctx, "late", "")
		return err == nil && x.Status == engine.StatusTerminated
	})
	if x, _ := h.client.Describe(h.ctx, "kept", ""); x.Status != engine.StatusRunning || x.RunID != kept.RunID {
		t.Fatalf("the kept child is %s (run %s, was %s)", x.Status, x.RunID, kept.RunID)
	}
	must(h.client.Signal(h.ctx, "kept", "", "finish", "after reset"))
	must(h.client.Signal(h.ctx, "dad", "", "more", nil))
	var r string
	h.mustResult("dad", &r)
	if r != "finished after reset" {
		t.Fatalf("the reset parent got %q", r)
	}
	if n := count(h.history("dad"), engine.EventChildWorkflowCompleted); n != 1 {
		t.Fatalf("%d completions in the new run:\n%s", n, h.dump("dad"))
	}
}

// A child that continues as new stays its parent's child: the parent gets
// the chain's last result. A parent that continues as new closes its run:
// its open child gets the parent close policy.
func TestChildrenAndContinueAsNew(t *testing.T) {
	h := newHarness(t)
	childWorkers(h, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Counter", func(ctx engine.Context, n int) (int, error) {
			if n < 3 {
				return 0, engine.NewContinueAsNewError(ctx, n+1)
			}
			return n, nil
		}))
		must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context, round int) (int, error) {
			if round == 0 {
				var n int
				err := engine.ExecuteChildWorkflow(ctx, "Counter", 0, engine.ChildWorkflowOptions{ID: "counter"}).Get(ctx, &n)
				return n, err
			}
			if round == 1 { // leave a child running, and continue
				if err := engine.ExecuteChildWorkflow(ctx, "Waiter", nil, engine.ChildWorkflowOptions{ID: "left"}).GetChildWorkflowExecution().Get(ctx, nil); err != nil {
					return 0, err
				}
				return 0, engine.NewContinueAsNewError(ctx, 2)
			}
			return round, nil
		}))
	})
	h.start("dad", "q", "Parent", 0)
	var n int
	h.mustResult("dad", &n)
	if n != 3 {
		t.Fatalf("the parent got %d from its continued child", n)
	}
	kid, _ := h.client.Describe(h.ctx, "counter", "")
	if kid.Parent == nil || kid.Parent.WorkflowID != "dad" || kid.Status != engine.StatusCompleted {
		t.Fatalf("the child's last run: %s, parent %+v", kid.Status, kid.Parent)
	}
	if c := count(h.history("dad"), engine.EventChildWorkflowCompleted); c != 1 {
		t.Fatalf("%d completions:\n%s", c, h.dump("dad"))
	}

	h.start("mum", "q", "Parent", 1)
	h.mustResult("mum", &n)
	waitFor(t, "the left child terminated", func() bool {
		x, err := h.client.Describe(h.ctx, "left", "")
		return err == nil && x.Status == engine.StatusTerminated
	})
}

// The engine stops (services, worker, NATS) while its dispatcher is
// between a child's start and the parent's notice; restarted on the same
// data, it finishes the start: one child run, its result delivered once.
func TestChildStartSurvivesEngineRestart(t *testing.T) {
	reached, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	engine.SetChildStartHook(func(string) error {
		if once.CompareAndSwap(false, true) {
			close(reached)
			<-release
			return errors.New("the engine went down")
		}
		return nil
	})
	t.Cleanup(func() { engine.SetChildStartHook(nil) })
	var runs atomic.Int32
	register := countedChild(&runs, "restart-kid")
	dir := t.TempDir()
	n := startNode(t, dir, register)
	if _, err := n.client.Start(context.Background(), engine.StartOptions{ID: "dad", TaskQueue: "q"}, "Parent", nil); err != nil {
		t.Fatal(err)
	}
	<-reached
	stopped := make(chan struct{})
	go func() { n.stop(); close(stopped) }()
	time.Sleep(100 * time.Millisecond) // the stop is under way
	close(release)
	<-stopped

	n = startNode(t, dir, register)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r int
	if err := n.client.GetResult(ctx, "dad", "", &r); err != nil {
		t.Fatal(err)
	}
	events, err := n.client.History(ctx, "dad", "")
	if err != nil {
		t.Fatal(err)
	}
	if r != 7 || count(events, engine.EventChildWorkflowStarted) != 1 || count(events, engine.EventChildWorkflowCompleted) != 1 {
		t.Fatalf("result %d:\n%s", r, dumpEvents(events))
	}
	kid, err := n.client.History(ctx, "restart-kid", "")
	if err != nil || count(kid, engine.EventWorkflowStarted) != 1 || count(kid, engine.EventWorkflowCompleted) != 1 {
		t.Fatalf("child history (%v):\n%s", err, dumpEvents(kid))
	}
	if runs.Load() > 1 {
		t.Fatalf("the child's code ran %d times live", runs.Load())
	}
}

// countedChild registers Parent, which runs child workflow Counted (id
// childID) and returns its 7, and Counted, which counts its first
// executions (not replays) in runs.
func countedChild(runs *atomic.Int32, childID string) func(*engine.Worker) {
	return func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Counted", func(ctx engine.Context) (int, error) {
			if !engine.IsReplaying(ctx) {
				runs.Add(1)
			}
			return 7, nil
		}))
		must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context) (int, error) {
			var r int
			err := engine.ExecuteChildWorkflow(ctx, "Counted", nil, engine.ChildWorkflowOptions{ID: childID}).Get(ctx, &r)
			return r, err
		}))
	}
}
