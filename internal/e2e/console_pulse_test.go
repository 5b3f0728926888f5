package e2e_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Finding 9 and :pulse against the real engine under the demo load: a run
// on a queue no worker polls says so in `foreman show` and `foreman
// queues`; the console's :pulse shows non-zero rates, the workers, and the
// workerless queue flagged.
func TestConsolePulseAndQueueWithoutWorker(t *testing.T) {
	e := startEngine(t, "--demo")
	args := []string{"start", "OrderFulfillment", "--id", "ord-nobody", "--queue", "nobody-polls", "--input", `{"order_id":"ord-nobody","amount":5}`}
	if _, stderr, code := e.foreman(t, "starter", args...); code != 0 {
		t.Fatalf("foreman %v: exit %d: %s", args, code, stderr)
	}
	out, stderr, code := e.foreman(t, "e2e", "show", "ord-nobody")
	if code != 0 || !strings.Contains(out, "no worker polling queue nobody-polls") {
		t.Fatalf("foreman show: exit %d, no no-worker reason:\n%s%s", code, out, stderr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, stderr, code = e.foreman(t, "e2e", "queues")
		if code == 0 && queueLine(out, "nobody-polls", "no worker") && queueLine(out, "orders", "") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("foreman queues: exit %d:\n%s%s", code, out, stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}

	s := newScreen(t, 120, 40, []string{"FOREMAN_NATS=" + e.url, "FOREMAN_IDENTITY=alice", "TERM=xterm-256color", "HOME=" + t.TempDir()},
		filepath.Join(bin, "foreman"))
	s.waitText(20*time.Second, "foreman as alice")
	s.keys(":", "pulse", "Enter")
	s.waitFor(":pulse with runs started and the workerless queue flagged", 30*time.Second, func(txt string) bool {
		return startedRate(txt) > 0 && strings.Contains(txt, "without a worker") && queueLine(txt, "nobody-polls", "✗ none")
	})
}

// queueLine tells whether a line starts (after spaces) with queue and
// contains want.
func queueLine(out, queue, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), queue+" ") && strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// startedRate reads the last-minute rate of :pulse's "started" line.
func startedRate(screen string) float64 {
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "started" {
			r, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return r
		}
	}
	return 0
}
