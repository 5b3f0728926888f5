package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/foremanhq/foreman/engine"
)

func TestApproversGroupsAndFourEyes(t *testing.T) {
	h := newHarness(t)
	flow := func(ctx engine.Context, in map[string]string) (string, error) {
		d, err := engine.AwaitApproval(ctx, "finance", engine.ApprovalOptions{Approvers: []string{"group:finance", "dora"}, FourEyes: true, NotByField: "submitter"})
		return d.By, err
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Spend", flow)) })
	sam := engine.NewClient(h.store, engine.ClientOptions{Identity: "sam"})
	if _, err := sam.Start(h.ctx, engine.StartOptions{ID: "s1", TaskQueue: "q"}, "Spend", map[string]string{"submitter": "bob"}); err != nil {
		t.Fatal(err)
	}
	h.waitForEvent("s1", engine.EventApprovalRequested)
	as := func(user string, groups ...string) *engine.Client {
		return h.client.As(engine.Acting{Principal: user, Groups: groups})
	}
	for _, c := range []struct {
		who  *engine.Client
		rule string
	}{
		{as("eve", "sales"), "rule approvers"},
		{as("bob", "finance"), "rule four-eyes (bob is the input's submitter)"},
		{as("sam", "finance"), "rule four-eyes (sam started the run)"},
	} {
		err := c.who.Decide(h.ctx, "s1", "", "finance", true, "")
		if !errors.Is(err, engine.ErrNotApprover) || !strings.Contains(err.Error(), c.rule) {
			t.Fatalf("%s: %v, want a refusal naming %q", c.who.Principal(), err, c.rule)
		}
	}
	must(as("carol", "finance").Decide(h.ctx, "s1", "", "finance", true, ""))
	var by string
	if err := h.result("s1", &by); err != nil || by != "carol" {
		t.Fatalf("decided by %q, %v; want carol (of group finance)", by, err)
	}
	x, _ := h.client.Describe(h.ctx, "s1", "")
	if x.StartedBy != "sam" {
		t.Fatalf("StartedBy %q, want sam", x.StartedBy)
	}
}
