package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/internal/syncbuf"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// bin holds the binaries built once for the package's tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "foreman-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	// The engines the tests start leave their credentials there, and the
	// CLI and console find them there: never in the user's config
	// directory. newScreen passes it into tmux sessions.
	os.Setenv(jetstream.ConfigDirEnv, filepath.Join(dir, "config"))
	for name, pkg := range map[string]string{"foreman-engine": "./cmd/engine", "foreman": "./cmd/console"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// engineProc is a running foreman-engine.
type engineProc struct {
	url  string
	log  *syncbuf.Buffer
	cmd  *exec.Cmd
	args []string
}

// kill stops the engine at once (SIGKILL), as a crash or an OOM kill would.
func (e *engineProc) kill(t *testing.T) {
	t.Helper()
	if err := e.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing foreman-engine: %v", err)
	}
	_ = e.cmd.Wait()
}

// startEngine runs foreman-engine with args on a free port and its own data
// directory, and waits until it is ready. Cleanup stops it.
func startEngine(t *testing.T, args ...string) *engineProc {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", jstest.FreePort(t))
	e := &engineProc{url: "nats://" + addr, log: &syncbuf.Buffer{},
		args: append([]string{"--data", t.TempDir(), "--listen", addr, "--log-level", "info"}, args...)}
	e.launch(t)
	return e
}

// restart starts the engine again, on the same port and data (after kill).
func (e *engineProc) restart(t *testing.T) {
	t.Helper()
	e.launch(t)
}

// launch starts the process and waits for its "ready" line (one more than
// the log held before). Cleanup stops it.
func (e *engineProc) launch(t *testing.T) {
	t.Helper()
	readyBefore := strings.Count(e.log.String(), "foreman-engine ready")
	cmd := exec.Command(filepath.Join(bin, "foreman-engine"), e.args...)
	cmd.Stdout, cmd.Stderr = e.log, e.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.cmd = cmd
	t.Cleanup(func() {
		if cmd.ProcessState != nil {
			return // killed and waited for
		}
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("foreman-engine log:\n%s", e.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(e.log.String(), "foreman-engine ready") == readyBefore {
		if time.Now().After(deadline) {
			t.Fatalf("foreman-engine did not become ready:\n%s", e.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// foreman runs the foreman CLI against the engine and returns stdout, stderr and the exit code.
func (e *engineProc) foreman(t *testing.T, identity string, args ...string) (string, string, int) {
	t.Helper()
	return runForeman(t, []string{"FOREMAN_NATS=" + e.url, "FOREMAN_IDENTITY=" + identity}, args...)
}

// runForeman runs the foreman CLI with env added to this process's and
// returns stdout, stderr and the exit code.
func runForeman(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "foreman"), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("foreman %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// mustJSON runs foreman and decodes its JSON stdout into out.
// waitCount waits until the index counts want runs matching query.
func (e *engineProc) waitCount(t *testing.T, query string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, _, _ := e.foreman(t, "e2e", "count", query)
		if strings.TrimSpace(out) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index counts %q runs matching %s, want %d", out, query, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *engineProc) mustJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	stdout, stderr, code := e.foreman(t, "e2e", args...)
	if code != 0 {
		t.Fatalf("foreman %v: exit %d\n%s", args, code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("foreman %v: %v\n%s", args, err, stdout)
	}
}
