package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/jetstream"
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
	s.waitText(20*time.Second, "foreman as alice", "exp-e2e-1", "ord-e2e-9")

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
			// who authenticated (the local credentials' user), on behalf of
			// the identity the console was given
			if !d.Approved || d.By != jetstream.LocalUser() || d.OnBehalfOf != "alice" || d.Comment != "receipts checked" || d.Name != "manager" {
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
	if term == nil || term.Identity != jetstream.LocalUser() || term.OnBehalfOf != "alice" || term.Reason != "customer withdrew" {
		t.Fatalf("terminate recorded as %+v", term)
	}
	s.keys("q")
}

// A context made for a viewer's credentials, marked production, round
// trips through add, list, use, show and remove; selected, it connects
// the CLI with no flag (read-only: the viewer role) and the console's
// header shows the context, the production badge and the principal.
func TestContextsAndTheConsoleHeader(t *testing.T) {
	e := startEngine(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "vera.nk")
	add := exec.Command(filepath.Join(bin, "foreman-engine"), "users", "add", "vera", "--role", "viewer", "-o", creds, "--nats", e.url)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	cfg := t.TempDir() // contexts of this test only; no local credentials there
	// No FOREMAN_NATS (empty is unset): the selected context decides.
	fm := func(args ...string) (string, int) {
		t.Helper()
		stdout, stderr, code := runForeman(t, []string{"FOREMAN_NATS=", "FOREMAN_CONFIG_DIR=" + cfg}, args...)
		return stdout + stderr, code
	}
	if out, code := fm("context", "add", "prod-eu", "--url", e.url, "--creds", creds, "--production", "--description", "EU cluster"); code != 0 {
		t.Fatalf("context add: exit %d\n%s", code, out)
	}
	out, code := fm("context", "list", "-o", "json")
	var list []struct {
		Name       string `json:"name"`
		URL        string `json:"url"`
		Creds      string `json:"creds"`
		Production bool   `json:"production"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0].Name != "prod-eu" || !list[0].Production || list[0].URL != e.url || list[0].Creds != creds {
		t.Fatalf("context list: exit %d, %v: %s", code, err, out)
	}
	if out, code := fm("count"); code == 0 {
		t.Fatalf("no context selected and no local credentials: count succeeded\n%s", out)
	}
	if out, code := fm("context", "use", "prod-eu"); code != 0 {
		t.Fatalf("context use: %d %s", code, out)
	}
	if out, code := fm("context", "show"); code != 0 || !strings.Contains(out, "prod-eu (selected)") || !strings.Contains(out, "vera") || !strings.Contains(out, "production") {
		t.Fatalf("context show: exit %d\n%s", code, out)
	}
	if out, code := fm("count"); code != 0 || strings.TrimSpace(out) != "0" {
		t.Fatalf("count through the selected context: exit %d\n%s", code, out)
	}
	if out, code := fm("terminate", "nope", "--reason", "x", "-y"); code != 4 || !strings.Contains(out, "read-only") {
		t.Fatalf("a viewer's terminate: exit %d, want 4 (read-only)\n%s", code, out)
	}

	s := newScreen(t, 120, 30, []string{"TERM=xterm-256color", "HOME=" + t.TempDir()},
		"env -u FOREMAN_NATS FOREMAN_CONFIG_DIR="+cfg+" FOREMAN_IDENTITY=bob "+filepath.Join(bin, "foreman"))
	s.waitText(20*time.Second, "foreman @prod-eu", "PRODUCTION", "as bob (user vera)", "[read-only]", "● live")
	s.keys("q")

	if out, code := fm("context", "remove", "prod-eu"); code != 0 {
		t.Fatalf("context remove: %d %s", code, out)
	}
	if out, code := fm("context", "list", "-o", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("after remove: exit %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(cfg, "context.txt")); !os.IsNotExist(err) {
		t.Fatalf("removing the selected context left it selected: %v", err)
	}
}

// The example workers, run in their own process side (this test) with
// worker credentials of their task queues instead of inside the engine,
// do their whole job: workflow and activity tasks, activity heartbeats,
// timers, compensations.
func TestExampleWorkersWithWorkerCredentials(t *testing.T) {
	e := startEngine(t) // no --examples: the workers are this test's
	creds := filepath.Join(t.TempDir(), "ex.nk")
	args := []string{"users", "add", "ex-worker", "--role", "worker", "-o", creds, "--nats", e.url}
	for _, q := range examples.Queues {
		args = append(args, "--queue", q)
	}
	if out, err := exec.Command(filepath.Join(bin, "foreman-engine"), args...).CombinedOutput(); err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	var node *jetstream.Node
	waitDial := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		node, err = jetstream.Dial(ctx, e.url, jetstream.Options{CredsFile: creds, Name: "example workers"})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(waitDial) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer node.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := examples.StartWorkers(ctx, node.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, id := range []string{"ord-w-1", "ord-w-2"} {
		input := `{"order_id":"` + id + `","amount":80}`
		want := "0"
		if id == "ord-w-2" {
			input, want = `{"order_id":"`+id+`","amount":80,"fail_at":"ship"}`, "1" // fails, compensates
		}
		_, stderr, code := e.foreman(t, "e2e", "start", "OrderFulfillment", "--id", id, "--queue", examples.OrderQueue, "--input", input, "--wait", "--timeout", "60s")
		if fmt.Sprint(code) != want {
			t.Fatalf("order %s: exit %d, want %s: %s", id, code, want, stderr)
		}
	}
	var x engine.Execution
	e.mustJSON(t, &x, "show", "ord-w-2", "-o", "json")
	if x.Status != engine.StatusCompensated && x.Status != engine.StatusFailed {
		t.Fatalf("ord-w-2 is %s", x.Status)
	}
}
