package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// An activity fails until the bug is fixed; the workflow fails. After the
// fix, a reset to last-good gives a new run that re-dispatches the activity
// and completes, and the old run is closed as reset and points to it.
func TestResetLastGoodAfterFix(t *testing.T) {
	h := newHarness(t)
	var fixed atomic.Bool
	var calls atomic.Int32
	charge := func(ctx context.Context, amount int) (string, error) {
		calls.Add(1)
		if !fixed.Load() {
			return "", errors.New("card processor rejected the request: bad currency code")
		}
		return fmt.Sprintf("charged %d", amount), nil
	}
	wf := func(ctx engine.Context, amount int) (string, error) {
		ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2}})
		engine.SetStatus(ctx, "charging")
		var out string
		err := engine.ExecuteActivity(ctx, "Charge", amount).Get(ctx, &out)
		return out, err
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Pay", wf))
		must(w.RegisterActivityWithName("Charge", charge))
	})
	first := h.start("pay-1", "q", "Pay", 42)
	if err := h.result("pay-1", nil); err == nil {
		t.Fatal("the broken activity should fail the run")
	}
	fixed.Store(true)

	dry, err := h.client.Reset(h.ctx, "pay-1", "", engine.ResetOptions{To: engine.ResetLastGood, DryRun: true})
	must(err)
	if dry.NewRunID != "" || !dry.DryRun {
		t.Fatalf("dry run created run %q", dry.NewRunID)
	}
	if still, _ := h.client.Describe(h.ctx, "pay-1", ""); still.RunID != first.RunID || still.Status != engine.StatusFailed {
		t.Fatalf("a dry run changed the run: %s %s", still.RunID, still.Status)
	}
	res, err := h.client.Reset(h.ctx, "pay-1", "", engine.ResetOptions{To: engine.ResetLastGood, Reason: "currency fix deployed"})
	must(err)
	if res.ResetEventID != dry.ResetEventID || len(res.Kept) != len(dry.Kept) || len(res.Dropped) != len(dry.Dropped) {
		t.Fatalf("dry run said reset to %d keeping %d/dropping %d, reset did %d keeping %d/dropping %d",
			dry.ResetEventID, len(dry.Kept), len(dry.Dropped), res.ResetEventID, len(res.Kept), len(res.Dropped))
	}
	var out string
	h.mustResult("pay-1", &out)
	if out != "charged 42" {
		t.Fatalf("result %q", out)
	}

	newHist, err := h.client.History(h.ctx, "pay-1", res.NewRunID)
	must(err)
	checkHistory(t, newHist)
	// The new run's history begins with exactly the events the dry run said it would keep.
	for i, e := range dry.Kept {
		if newHist[i].ID != e.ID || newHist[i].Type != e.Type {
			t.Fatalf("new run event %d is %s, the dry run promised %s", newHist[i].ID, newHist[i].Type, e.Type)
		}
	}
	if got := newHist[len(dry.Kept)].Type; got != engine.EventResetApplied {
		t.Fatalf("after the kept events comes %s, want ResetApplied", got)
	}
	if n := count(newHist, engine.EventActivityAttemptFailed) + count(newHist, engine.EventActivityFailed); n != 0 {
		t.Fatalf("the new run carries %d failures of the old one:\n%s", n, h.dump("pay-1"))
	}
	started := newHist[0].Attrs.(*engine.WorkflowStarted)
	if started.RunID != res.NewRunID || started.ResetFrom != first.RunID {
		t.Fatalf("new run's start: run %s reset from %q", started.RunID, started.ResetFrom)
	}
	old, err := h.client.Describe(h.ctx, "pay-1", first.RunID)
	must(err)
	if old.Status != engine.StatusReset || old.ResetTo != res.NewRunID {
		t.Fatalf("old run is %s (reset to %q), want reset to %s", old.Status, old.ResetTo, res.NewRunID)
	}
	oldHist, err := h.client.History(h.ctx, "pay-1", first.RunID)
	must(err)
	r := oldHist[len(oldHist)-1].Attrs.(*engine.WorkflowReset)
	if r.Identity != "tester" || r.Reason != "currency fix deployed" {
		t.Fatalf("reset recorded by %q for %q", r.Identity, r.Reason)
	}
	// A second reset of the old run is refused.
	if _, err := h.client.Reset(h.ctx, "pay-1", first.RunID, engine.ResetOptions{}); !errors.Is(err, engine.ErrRunClosed) {
		t.Fatalf("resetting a run that was reset: %v", err)
	}
}

// FM 4: signals received after the reset point are re-applied exactly once;
// signals before it are replayed from the kept history, not re-applied.
// Signed, the copied history's signals are signed anew for the new run (else its replay would not see them).
func TestResetReappliesSignalsOnce(t *testing.T) { plainAndSigned(t, resetReappliesSignalsOnce) }

func resetReappliesSignalsOnce(t *testing.T, h *harness) {
	wf := func(ctx engine.Context, _ int) (int, error) {
		add := engine.GetSignalChannel(ctx, "add")
		finish := engine.GetSignalChannel(ctx, "finish")
		sum, done := 0, false
		for !done {
			sel := engine.NewSelector(ctx)
			sel.AddReceive(add, func(c engine.Channel, more bool) {
				var v int
				c.Receive(ctx, &v)
				sum += v
			})
			sel.AddReceive(finish, func(c engine.Channel, more bool) {
				c.Receive(ctx, nil)
				done = true
			})
			sel.Select(ctx)
		}
		return sum, nil
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Sum", wf)) })

	for _, tc := range []struct {
		name    string
		to      func(events []engine.Event) string
		reapply bool
		want    int
	}{
		{"first with re-apply", func([]engine.Event) string { return engine.ResetFirst }, true, 1 + 2 + 4 + 100},
		{"first without re-apply", func([]engine.Event) string { return engine.ResetFirst }, false, 100},
		{"after the first signal", func(events []engine.Event) string {
			// the boundary ending the task that consumed the first signal
			seen := false
			for _, e := range events {
				if e.Type == engine.EventSignalReceived {
					seen = true
				}
				if seen && e.Type == engine.EventWorkflowTaskCompleted {
					return fmt.Sprint(e.ID)
				}
			}
			return "?"
		}, true, 1 + 2 + 4 + 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "sum-" + tc.name
			h.start(id, "q", "Sum", 0)
			for _, v := range []int{1, 2, 4} {
				must(h.client.Signal(h.ctx, id, "", "add", v))
				want := v
				waitFor(t, "signal consumed", func() bool { // each signal its own task, so boundaries exist between them
					events := h.history(id)
					return count(events, engine.EventWorkflowTaskCompleted) > 0 && events[len(events)-1].Type == engine.EventWorkflowTaskCompleted &&
						count(events, engine.EventSignalReceived) >= map[int]int{1: 1, 2: 2, 4: 3}[want]
				})
			}
			res, err := h.client.Reset(h.ctx, id, "", engine.ResetOptions{To: tc.to(h.history(id)), ReapplySignals: tc.reapply})
			must(err)
			// A signal sent to the workflow id after the reset reaches the new run.
			must(h.client.Signal(h.ctx, id, "", "add", 100))
			must(h.client.Signal(h.ctx, id, "", "finish", nil))
			var sum int
			h.mustResult(id, &sum)
			if sum != tc.want {
				t.Fatalf("sum %d, want %d (re-applied %d signals)\n%s", sum, tc.want, len(res.Reapplied), h.dump(id))
			}
			newHist, err := h.client.History(h.ctx, id, res.NewRunID)
			must(err)
			checkHistory(t, newHist)
			if got, want := count(newHist, engine.EventSignalReceived), 2+3; tc.reapply && got != want {
				t.Fatalf("new run holds %d signals, want %d (3 before + 2 after the reset)", got, want)
			}
		})
	}
}

// A reset point must end a workflow task; anything else is refused with the
// valid points named. A running run can be reset too: it closes as reset.
func TestResetPointsAndRunningRun(t *testing.T) {
	h := newHarness(t)
	wf := func(ctx engine.Context, _ int) (string, error) {
		var s string
		engine.GetSignalChannel(ctx, "go").Receive(ctx, &s)
		return s, nil
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Wait", wf)) })
	first := h.start("wait-1", "q", "Wait", 0)
	h.waitForEvent("wait-1", engine.EventWorkflowTaskCompleted)

	_, err := h.client.Reset(h.ctx, "wait-1", "", engine.ResetOptions{To: "1"})
	if err != nil {
		t.Fatalf("event 1 ends the start batch, a valid point: %v", err)
	}
	second, err := h.client.Describe(h.ctx, "wait-1", "")
	must(err)
	if second.RunID == first.RunID || second.Status != engine.StatusRunning {
		t.Fatalf("after reset the current run is %s %s", second.RunID, second.Status)
	}
	h.waitForEvent("wait-1", engine.EventWorkflowTaskCompleted)
	for _, to := range []string{"2", "99", "yesterday"} {
		_, err := h.client.Reset(h.ctx, "wait-1", "", engine.ResetOptions{To: to, DryRun: true})
		if !errors.Is(err, engine.ErrBadResetPoint) {
			t.Fatalf("reset to %q: %v, want ErrBadResetPoint", to, err)
		}
		t.Logf("reset to %q: %v", to, err)
	}
	must(h.client.Signal(h.ctx, "wait-1", "", "go", "done"))
	var out string
	h.mustResult("wait-1", &out)
	if out != "done" {
		t.Fatalf("result %q", out)
	}
	old, err := h.client.Describe(h.ctx, "wait-1", first.RunID)
	must(err)
	if old.Status != engine.StatusReset {
		t.Fatalf("old run %s", old.Status)
	}
	if err := h.client.Signal(h.ctx, "wait-1", first.RunID, "go", "late"); !errors.Is(err, engine.ErrRunClosed) {
		t.Fatalf("signal to the reset run: %v", err)
	}
}
