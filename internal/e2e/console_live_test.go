package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// With 300 runs (more than the rows shown) and the cursor on the first
// row, a run started meanwhile takes the top row and the cursor within a
// second or two; then Tab walks the cancel dialog to its "Cancel run"
// button and Enter there cancels.
func TestConsoleFollowsNewRunsAndTabReachesTheButton(t *testing.T) {
	e := startEngine(t, "--examples")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node, err := jetstream.Dial(ctx, e.url, jetstream.Options{Name: "e2e starter"})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	c := engine.NewClient(node.Store, engine.ClientOptions{Identity: "starter"})
	start := func(id string) {
		t.Helper()
		in := map[string]any{"expense_id": id, "amount": 4200, "submitter": "bob"}
		if _, err := c.Start(ctx, engine.StartOptions{ID: id, TaskQueue: "approvals"}, "ExpenseApproval", in); err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
	}
	for i := range 300 {
		start(fmt.Sprintf("exp-live-%03d", i))
	}
	e.waitCount(t, "workflow_id:exp-live-*", 300, 60*time.Second)

	s := newScreen(t, 160, 48, []string{"FOREMAN_NATS=" + e.url, "FOREMAN_IDENTITY=alice", "TERM=xterm-256color", "HOME=" + t.TempDir()},
		filepath.Join(bin, "foreman"))
	s.waitText(20*time.Second, "foreman as alice", "300 matches")
	cursorOn := func(txt, id string) bool {
		for _, l := range strings.Split(txt, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "▶") {
				return strings.Contains(l, id)
			}
		}
		return false
	}
	s.waitFor("the cursor on the newest run", 10*time.Second, func(txt string) bool { return cursorOn(txt, "exp-live-299") })

	started := time.Now()
	start("exp-live-new")
	s.waitFor("the new run under the cursor at the top", 3*time.Second, func(txt string) bool { return cursorOn(txt, "exp-live-new") })
	t.Logf("the new run reached the top row %s after its start", time.Since(started).Round(10*time.Millisecond))

	s.keys("C")
	s.waitText(5*time.Second, "Cancel this run?", "Cancel run")
	s.keys("e2e cleanup", "Tab", "Tab", "Enter") // reason → No → Cancel run
	deadline := time.Now().Add(20 * time.Second)
	for {
		var x engine.Execution
		e.mustJSON(t, &x, "show", "exp-live-new", "-o", "json")
		if x.CancelRequested || x.Status == engine.StatusCanceled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Tab, Tab, Enter did not cancel the run (%s); screen:\n%s", x.Status, s.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.keys("q")
}
