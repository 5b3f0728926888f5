package e2e_test

import (
	"fmt"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A newcomer's first command: `make demo` on a fresh data directory builds
// the binaries, starts the engine with its demo load and opens the console,
// which shows live executions within 60 s; quitting the console stops the
// engine.
func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole demo")
	}
	data := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", jstest.FreePort(t))
	began := time.Now()
	cmdline := fmt.Sprintf("make -C %q demo DATA=%q LISTEN=%s; echo DEMO-EXITED; sleep 30", repoRoot(), data, listen)
	s := newScreen(t, 160, 48, []string{"TERM=xterm-256color"}, cmdline)
	// The console lists the demo's executions: a header with counts and
	// rows of the example workflow types, some running.
	txt := s.waitFor("the console to show live executions", 60*time.Second, func(txt string) bool {
		return strings.Contains(txt, "matches") && strings.Contains(txt, "● running") &&
			(strings.Contains(txt, "OrderFulfillment") || strings.Contains(txt, "ExpenseApproval") ||
				strings.Contains(txt, "DocumentIngestion") || strings.Contains(txt, "SubscriptionRenewal"))
	})
	t.Logf("console with live executions after %s:\n%s", time.Since(began).Round(100*time.Millisecond), txt)
	s.keys("q")
	s.waitText(20*time.Second, "DEMO-EXITED")
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := exec.Command("pgrep", "-f", "foreman-engine --demo --data "+data).Output()
		if len(strings.TrimSpace(string(out))) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("foreman-engine still runs after the console quit: pids %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
