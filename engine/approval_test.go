package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

type approvalResult struct {
	Approved bool   `json:"approved"`
	By       string `json:"by"`
	Comment  string `json:"comment"`
	Outcome  string `json:"outcome"`
}

func approvalFlow(timeout time.Duration) func(ctx engine.Context) (approvalResult, error) {
	return func(ctx engine.Context) (approvalResult, error) {
		engine.SetStatus(ctx, "waiting for manager")
		d, err := engine.AwaitApproval(ctx, "manager", engine.ApprovalOptions{Description: "expense 1200", Approvers: []string{"alice", "tester"}, Timeout: timeout})
		if errors.Is(err, engine.ErrApprovalTimedOut) {
			return approvalResult{Outcome: "escalated"}, nil
		}
		if err != nil {
			return approvalResult{}, err
		}
		out := "rejected"
		if d.Approved {
			out = "approved"
		}
		return approvalResult{Approved: d.Approved, By: d.By, Comment: d.Comment, Outcome: out}, nil
	}
}

func TestApprovalApproveRejectRefuse(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Expense", approvalFlow(0))) })
	h.start("e1", "q", "Expense", nil)
	h.start("e2", "q", "Expense", nil)
	h.waitForEvent("e1", engine.EventApprovalRequested)
	h.waitForEvent("e2", engine.EventApprovalRequested)

	x, err := h.client.Describe(h.ctx, "e1", "")
	if err != nil || len(x.Approvals) != 1 || x.Approvals[0].Name != "manager" || x.Approvals[0].Description != "expense 1200" {
		t.Fatalf("pending approvals: %+v %v", x, err)
	}
	if err := h.client.Decide(h.ctx, "e1", "", "director", true, ""); !errors.Is(err, engine.ErrNoSuchApproval) {
		t.Fatalf("unknown approval: %v", err)
	}
	mallory := engine.NewClient(h.store, engine.ClientOptions{Identity: "mallory"})
	if err := mallory.Decide(h.ctx, "e1", "", "manager", true, ""); !errors.Is(err, engine.ErrNotApprover) {
		t.Fatalf("not an approver: %v", err)
	}
	must(h.client.Decide(h.ctx, "e1", "", "manager", true, "looks fine"))
	if err := h.client.Decide(h.ctx, "e1", "", "manager", false, "again"); err == nil {
		t.Fatal("a second decision must be refused")
	}
	must(h.client.Decide(h.ctx, "e2", "", "manager", false, "too much"))

	var r1, r2 approvalResult
	h.mustResult("e1", &r1)
	h.mustResult("e2", &r2)
	if r1 != (approvalResult{Approved: true, By: "tester", Comment: "looks fine", Outcome: "approved"}) {
		t.Fatalf("e1: %+v", r1)
	}
	if r2.Outcome != "rejected" || r2.Comment != "too much" {
		t.Fatalf("e2: %+v", r2)
	}
	if n := count(h.history("e1"), engine.EventApprovalDecided); n != 1 {
		t.Fatalf("%d decisions in history", n)
	}
}

// An approval timeout fires at its time of workflow time (72 h, in
// milliseconds on the test clock); a decision after the close is refused.
func TestApprovalTimeout(t *testing.T) {
	env := newTestEnv(t)
	env.RegisterWorkflowWithName("Expense", approvalFlow(72*time.Hour))
	run := env.Start("Expense", nil)
	env.Advance(71 * time.Hour)
	if n := count(env.History(run), engine.EventApprovalTimedOut); n != 0 {
		t.Fatalf("timed out before 72h:\n%s", dumpEvents(env.History(run)))
	}
	var r approvalResult
	must(env.Result(run, &r))
	if r.Outcome != "escalated" {
		t.Fatalf("%+v", r)
	}
	events := env.History(run)
	if count(events, engine.EventApprovalTimedOut) != 1 {
		t.Fatalf("history:\n%s", dumpEvents(events))
	}
	if d := eventTime(t, events, engine.EventApprovalTimedOut).Sub(eventTime(t, events, engine.EventApprovalRequested)); d != 72*time.Hour {
		t.Fatalf("timed out %s after the request, want 72h", d)
	}
	if err := env.Client().Decide(env.Context(), run.WorkflowID, "", "manager", true, ""); !errors.Is(err, engine.ErrRunClosed) {
		t.Fatalf("decision after close: %v", err)
	}
}
