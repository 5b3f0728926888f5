package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// The operator's path through the real console, in tmux, against the real
// engine with the example workflows: search for a pending approval, open
// it, approve it with a comment; the execution moves on and its history
// records who approved. Then terminate another run with the typed-id
// confirmation.
func TestConsoleApproveAndTerminate(t *testing.T) {
	e := startEngine(t, "--examples")
	for _, args := range [][]string{
		{"start", "ExpenseApproval", "--id", "exp-e2e-1", "--queue", "approvals", "--input", `{"expense_id":"exp-e2e-1","amount":4200,"submitter":"bob"}`},
		{"start", "ExpenseApproval", "--id", "exp-e2e-2", "--queue", "approvals", "--input", `{"expense_id":"exp-e2e-2","amount":90,"submitter":"bob"}`},
		{"start", "OrderFulfillment", "--id", "ord-e2e-9", "--queue", "orders", "--input", `{"order_id":"ord-e2e-9","amount":5000}`},
	} {
		if _, stderr, code := e.foreman(t, "starter", args...); code != 0 {
			t.Fatalf("foreman %v: exit %d: %s", args, code, stderr)
		}
	}
	// Both long-running ones wait for a manager before the console opens.
	waitApproval := func(id string) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			var x engine.Execution
			e.mustJSON(t, &x, "show", id, "-o", "json")
			if len(x.Approvals) > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never asked for approval: %+v", id, x)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitApproval("exp-e2e-1")
	waitApproval("ord-e2e-9")

	s := newScreen(t, 160, 48, []string{"FOREMAN_NATS=" + e.url, "FOREMAN_IDENTITY=alice", "TERM=xterm-256color", "HOME=" + t.TempDir()},
		filepath.Join(bin, "foreman"))
	s.waitText(20*time.Second, "for alice", "exp-e2e-1", "ord-e2e-9")

	// Search for the pending approval and open it.
	s.keys("/", "C-u", "waiting_on:approval type:ExpenseApproval", "Enter")
	s.waitFor("the search to narrow the list to the expense", 10*time.Second, func(txt string) bool {
		return strings.Contains(txt, "exp-e2e-1") && !strings.Contains(txt, "ord-e2e-9") && !strings.Contains(txt, "exp-e2e-2")
	})
	s.keys("Enter")
	s.waitText(10*time.Second, "exp-e2e-1", "manager")
	s.keys("a")
	s.waitText(5*time.Second, "Approve", "Comment")
	s.keys("receipts checked", "Enter")

	// The execution moved on: paid, and history says alice approved with her comment.
	deadline := time.Now().Add(20 * time.Second)
	var x engine.Execution
	for {
		e.mustJSON(t, &x, "show", "exp-e2e-1", "-o", "json")
		if x.Status == engine.StatusCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the approval the expense is %s; screen:\n%s", x.Status, s.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var events []engine.Event
	e.mustJSON(t, &events, "history", "exp-e2e-1", "-o", "json")
	decided := 0
	for _, ev := range events {
		if d, ok := ev.Attrs.(*engine.ApprovalDecided); ok {
			decided++
			if !d.Approved || d.By != "alice" || d.Comment != "receipts checked" || d.Name != "manager" {
				t.Fatalf("recorded decision %+v", d)
			}
		}
	}
	if decided != 1 {
		t.Fatalf("%d decisions in history, want 1", decided)
	}

	// Back to the list; terminate the order with the typed-id confirmation.
	s.keys("Escape")
	s.waitFor("the list again", 5*time.Second, func(txt string) bool {
		if !strings.Contains(txt, "WORKFLOW ID") {
			s.keys("Escape") // the first one may only close a message
			return false
		}
		return true
	})
	s.keys("/", "C-u", "workflow_id:ord-e2e-9", "Enter")
	s.waitFor("the list to show only the order", 10*time.Second, func(txt string) bool {
		return strings.Contains(txt, "ord-e2e-9") && !strings.Contains(txt, "exp-e2e-1")
	})
	s.keys("T")
	s.waitText(5*time.Second, "Terminate this run?", `Type the workflow id "ord-e2e-9"`)
	s.keys("customer withdrew", "Enter", "ord-e2e-8", "Enter")
	s.waitText(5*time.Second, "ord-e2e-8") // a wrong id is refused: the dialog stays
	e.mustJSON(t, &x, "show", "ord-e2e-9", "-o", "json")
	if x.Status != engine.StatusRunning {
		t.Fatalf("a mistyped confirmation terminated the run: %s", x.Status)
	}
	s.keys("BSpace", "9", "Enter")
	deadline = time.Now().Add(20 * time.Second)
	for {
		e.mustJSON(t, &x, "show", "ord-e2e-9", "-o", "json")
		if x.Status == engine.StatusTerminated || x.Status == engine.StatusCompensated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the order is %s after a confirmed terminate; screen:\n%s", x.Status, s.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.mustJSON(t, &events, "history", "ord-e2e-9", "-o", "json")
	var term *engine.WorkflowTerminated
	for _, ev := range events {
		if a, ok := ev.Attrs.(*engine.WorkflowTerminated); ok {
			term = a
		}
	}
	if term == nil || term.Identity != "alice" || term.Reason != "customer withdrew" {
		t.Fatalf("terminate recorded as %+v", term)
	}
	s.keys("q")
}
