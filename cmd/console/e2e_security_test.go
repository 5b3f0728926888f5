package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/actwire"
	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/operator"
)

func TestForgedOperatorEventsAndRefusals(t *testing.T) {
	e := startEngine(t)
	if err := startTestWorker(e.node.Store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopTestWorkers)
	creds := map[string]string{}
	for u, r := range map[string]string{"alice": "approver", "bob": "approver", "mallory": "operator", "vera": "viewer", "wendy": "worker"} {
		creds[u] = e.addUser(t, u, r)
	}
	as := func(user string, args ...string) []string {
		return append([]string{"--creds", creds[user], "--read-only=false"}, args...)
	}
	forger := e.dialAs(t, creds["wendy"]).Store // a worker credential: history-publish rights

	// Forgeries by a client holding history-publish rights take no effect.
	startGate(t, e, "sec-gate")
	e.waitApproval(t, "sec-gate", "release")
	e.forge(t, forger, "sec-gate", engine.EventApprovalDecided, &engine.ApprovalDecided{Seq: 1, Name: "release", Approved: true, By: "alice"})
	e.forge(t, forger, "sec-gate", engine.EventSignalReceived, &engine.SignalReceived{Name: "finish", Payload: json.RawMessage(`{"note":"forged"}`), Identity: "alice"})
	e.forge(t, forger, "sec-gate", engine.EventWorkflowTerminated, &engine.WorkflowTerminated{Reason: "forged", Identity: "alice"})
	waitFor(t, "the engine to reopen the run after the forged close", 10*time.Second, func() (bool, string) {
		last, err := e.node.Store.LastBatch(context.Background(), e.describe(t, "sec-gate").RunID)
		return err == nil && !last.Header.Closed, "last batch still closed"
	})
	time.Sleep(300 * time.Millisecond) // time for a worker to act on a forgery, if it did
	if x := e.describe(t, "sec-gate"); x.Status != engine.StatusRunning || len(x.Approvals) != 1 || x.Forgeries != 3 {
		t.Fatalf("after three forgeries: status %s, pending approvals %d, forgeries %d; want running, 1, 3", x.Status, len(x.Approvals), x.Forgeries)
	}

	// An approver not in the list: refused through the CLI, the console's
	// action path (operator.Actions over an engine client, as app.env
	// builds it) and a raw request; each refusal names the rule.
	e.fails(t, "x", 4, "rule approvers", as("mallory", "approve", "sec-gate", "release")...)
	malloryNode := e.dialAs(t, creds["mallory"])
	mallory := engine.NewClient(malloryNode.Store, engine.ClientOptions{Identity: "mallory"})
	acts := operator.New(operator.Default, func(context.Context) (operator.Env, error) {
		return operator.Env{Client: mallory, Identity: mallory.Principal()}, nil
	})
	ctx := context.Background()
	_, err := acts.Perform(ctx, operator.Request{Action: operator.ActApprove, Target: operator.Target{WorkflowID: "sec-gate", Approval: "release"}})
	if !errors.Is(err, engine.ErrNotApprover) || !strings.Contains(err.Error(), "rule approvers") {
		t.Fatalf("console path: %v, want a refusal naming the approvers rule", err)
	}
	req, _ := json.Marshal(actwire.Request{WorkflowID: "sec-gate", Approval: "release"})
	msg, err := malloryNode.Store.Conn().Request(actwire.Subject("mallory", "approve"), req, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep actwire.Reply
	if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Code != "not_approver" {
		t.Fatalf("raw request: %s, want code not_approver", msg.Data)
	}

	// The submitter of an expense under four-eyes: refused by the engine.
	e.ok(t, "carol", "start", "ExpenseApproval", "--id", "sec-exp", "--queue", "approvals", "--input", `{"expense_id":"s1","amount":4000,"submitter":"bob"}`)
	e.waitApproval(t, "sec-exp", "manager")
	e.fails(t, "x", 4, "rule four-eyes", as("bob", "approve", "sec-exp", "manager")...)
	req, _ = json.Marshal(actwire.Request{WorkflowID: "sec-exp", Approval: "manager"})
	if msg, err = e.dialAs(t, creds["bob"]).Store.Conn().Request(actwire.Subject("bob", "approve"), req, 10*time.Second); err != nil || !strings.Contains(string(msg.Data), "four-eyes") {
		t.Fatalf("raw request by the submitter: %s %v", msg.Data, err)
	}

	// A viewer's write and a worker's decision: refused by the engine.
	// the CLI starts read-only for a viewer's credentials; past it (any
	// client), the engine refuses
	e.fails(t, "x", 4, "read-only", as("vera", "terminate", "sec-exp", "--reason", "viewer tries", "--yes")...)
	vera := engine.NewClient(e.dialAs(t, creds["vera"]).Store, engine.ClientOptions{})
	if err := vera.Terminate(ctx, "sec-exp", "", "viewer tries"); !errors.Is(err, engine.ErrPermissionDenied) {
		t.Fatalf("a viewer's terminate through the SDK: %v, want permission denied", err)
	}
	e.fails(t, "x", 4, "permission denied", as("wendy", "approve", "sec-gate", "release")...)

	// The genuine approver and signal: the run completes normally.
	e.ok(t, "on-call", as("alice", "approve", "sec-gate", "release", "--comment", "ship it")...)
	e.ok(t, "on-call", as("mallory", "signal", "sec-gate", "finish", "--input", `{"note":"real"}`)...)
	if x := e.waitClosed(t, "sec-gate"); x.Status != engine.StatusCompleted || !strings.Contains(string(x.Result), "finished: real") {
		t.Fatalf("sec-gate closed %s with %s, want completed by the genuine signal", x.Status, x.Result)
	}
	show := e.ok(t, "auditor", "show", "sec-gate").stdout
	for _, want := range []string{"Started by   ops", "approved release by alice on behalf of on-call", "signaled finish by mallory", "3 operator events without the engine's signature"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}

	// The audit trail holds every action and refusal above.
	recs := e.auditLog(t)
	count := func(principal, action, outcome, why string) int {
		n := 0
		for _, r := range recs {
			if r.Principal == principal && r.Action == action && r.Outcome == outcome && strings.Contains(r.Why, why) {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		principal, action, outcome, why string
		n                               int
	}{
		{"alice", "forged-ApprovalDecided", audit.Forged, "", 1},
		{"alice", "forged-SignalReceived", audit.Forged, "", 1},
		{"alice", "forged-WorkflowTerminated", audit.Forged, "", 1},
		{"mallory", "approve", audit.Refused, "rule approvers", 3},
		{"bob", "approve", audit.Refused, "rule four-eyes", 2},
		{"vera", "terminate", audit.Refused, "permission denied", 1},
		{"wendy", "approve", audit.Refused, "permission denied", 1},
		{"alice", "approve", audit.OK, "", 1},
		{"mallory", "signal", audit.OK, "", 1},
		{"alice", "signal", audit.Refused, "", 0},
	} {
		if got := count(c.principal, c.action, c.outcome, c.why); got != c.n {
			t.Errorf("audit: %d records of %s %s %s (%q), want %d", got, c.principal, c.action, c.outcome, c.why, c.n)
		}
	}
	if t.Failed() {
		t.Logf("audit:\n%s", e.ok(t, "admin", "audit").stdout)
	}
	if out := e.ok(t, "admin", "audit", "-q", "outcome=refused principal=vera").stdout; !strings.Contains(out, "vera") || strings.Contains(out, "mallory") {
		t.Fatalf("audit -q filter:\n%s", out)
	}
}
