package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream"
)

// screen is a tmux session running one command in a fixed-size terminal.
type screen struct {
	t    *testing.T
	name string
}

// newScreen starts cmdline (a shell command) in a detached tmux session of
// the given size, with env set; Cleanup kills the session.
func newScreen(t *testing.T, width, height int, env []string, cmdline string) *screen {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required for the console end-to-end tests (.ci/run installs it): ", err)
	}
	name := fmt.Sprintf("foreman-e2e-%d", time.Now().UnixNano())
	args := []string{"new-session", "-d", "-s", name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}
	// A tmux server already running does not hand this process's
	// environment to its sessions.
	env = append(env, jetstream.ConfigDirEnv+"="+os.Getenv(jetstream.ConfigDirEnv))
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, cmdline)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	s := &screen{t: t, name: name}
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", name).Run() })
	return s
}

// text is what the terminal shows now.
func (s *screen) text() string {
	out, err := exec.Command("tmux", "capture-pane", "-p", "-t", s.name).CombinedOutput()
	if err != nil {
		return "capture-pane: " + err.Error() + ": " + string(out)
	}
	return string(out)
}

// keys sends keys as tmux key names ("Enter", "Escape", "C-c") or literal text.
func (s *screen) keys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		args := []string{"send-keys", "-t", s.name}
		if len(k) > 1 && !isKeyName(k) {
			args = append(args, "-l")
		}
		if out, err := exec.Command("tmux", append(args, k)...).CombinedOutput(); err != nil {
			s.t.Fatalf("tmux send-keys %q: %v\n%s", k, err, out)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func isKeyName(k string) bool {
	switch k {
	case "Enter", "Escape", "Tab", "BSpace", "Up", "Down", "Left", "Right", "Space", "PageUp", "PageDown":
		return true
	}
	return strings.HasPrefix(k, "C-") || strings.HasPrefix(k, "M-")
}

// waitFor waits until the screen satisfies cond, failing with the last screen.
func (s *screen) waitFor(what string, timeout time.Duration, cond func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		txt := s.text()
		if cond(txt) {
			return txt
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out after %s waiting for %s; the screen shows:\n%s", timeout, what, txt)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitText waits until the screen contains every one of subs.
func (s *screen) waitText(timeout time.Duration, subs ...string) string {
	s.t.Helper()
	return s.waitFor(fmt.Sprintf("%q", subs), timeout, func(txt string) bool {
		for _, sub := range subs {
			if !strings.Contains(txt, sub) {
				return false
			}
		}
		return true
	})
}
