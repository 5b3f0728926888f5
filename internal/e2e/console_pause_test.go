package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// The operator's path to a dead letter in the real console, in tmux: an
// order's charge runs out of attempts and the run pauses; the operator
// finds it from :stuck (a short threshold, so the test need not wait ten
// minutes), opens it, retries the activity from the Pending tab, and sees
// the run complete. History records the retry and who asked for it.
func TestConsoleDeadLetterRetry(t *testing.T) {
	e := startEngine(t, "--examples")
	const id = "ord-dead-1"
	if _, stderr, code := e.foreman(t, "starter", "start", "OrderFulfillment", "--id", id, "--queue", "orders",
		"--input", `{"order_id":"dead-1","amount":80,"fail_at":"gateway"}`); code != 0 {
		t.Fatalf("start: exit %d: %s", code, stderr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var x engine.Execution
		e.mustJSON(t, &x, "show", id, "-o", "json")
		if x.Paused != nil && x.Paused.DeadLetter {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became a dead letter: %s %+v", id, x.Status, x.Activities)
		}
		time.Sleep(100 * time.Millisecond)
	}

	s := newScreen(t, 160, 48, []string{"FOREMAN_NATS=" + e.url, "FOREMAN_IDENTITY=alice", "TERM=xterm-256color", "HOME=" + t.TempDir()},
		filepath.Join(bin, "foreman"))
	s.waitText(20*time.Second, "foreman as alice", id)
	// The list shows it paused; :stuck with a one-second threshold lists it.
	s.waitText(10*time.Second, "⏸ paused")
	time.Sleep(1500 * time.Millisecond)
	s.keys(":", "stuck 1s", "Enter")
	s.waitText(10*time.Second, "stuck > 1s", id)
	s.keys("Enter")
	s.waitText(10*time.Second, "dead letter: ChargePayment ran out of attempts")
	s.keys("2") // the Pending tab
	s.waitText(10*time.Second, "▶ #", "ChargePayment", "dead letter: x retries it")
	s.keys("x")
	s.waitText(5*time.Second, "Activity retry this run?", "skipping its backoff")
	s.keys("gateway back", "Tab", "Tab", "Enter")
	s.waitFor("the run to complete", 20*time.Second, func(txt string) bool {
		return strings.Contains(txt, "completed")
	})

	var x engine.Execution
	e.mustJSON(t, &x, "show", id, "-o", "json")
	if x.Status != engine.StatusCompleted || x.Paused != nil {
		t.Fatalf("after the retry: %s paused %+v; screen:\n%s", x.Status, x.Paused, s.text())
	}
	var events []engine.Event
	e.mustJSON(t, &events, "history", id, "-o", "json")
	retried := 0
	for _, ev := range events {
		if op, ok := ev.Attrs.(*engine.ActivityOperation); ok && op.Op == engine.ActivityOpRetry {
			retried++
			if op.OnBehalfOf != "alice" || op.Reason != "gateway back" || op.Identity == "" {
				t.Fatalf("recorded retry %+v", op)
			}
		}
	}
	if retried != 1 {
		t.Fatalf("%d retries in history, want 1", retried)
	}
}
