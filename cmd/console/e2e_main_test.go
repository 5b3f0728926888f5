package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"

	"github.com/foremanhq/foreman/internal/syncbuf"
)

// The end-to-end tests run the real binaries: foreman-engine (embedded
// NATS, the example workers) and foreman, built once in TestMain. A test
// worker in this process adds a workflow with a restricted approval, a
// query handler and a signal (testworker_test.go).

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "foreman-cli-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// The engines the tests start leave their credentials there, and the
	// CLI finds them there: never in the user's config directory.
	os.Setenv(jetstream.ConfigDirEnv, filepath.Join(dir, "config"))
	for name, pkg := range map[string]string{"foreman-engine": "../engine", "foreman": "."} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	stopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engineProc is a running foreman-engine and a test-side client on it.
type engineProc struct {
	url    string
	cmd    *exec.Cmd
	log    *syncbuf.Buffer
	data   string
	node   *jetstream.Node
	client *engine.Client // identity "test-setup"

	usersMu sync.Mutex
	users   map[string]string // identity -> credentials file (asUser)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// launchEngine starts foreman-engine --examples on a free port with its own
// data directory and waits until it is ready.
func launchEngine(extra ...string) (*engineProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	data, err := os.MkdirTemp("", "foreman-cli-e2e-data")
	if err != nil {
		return nil, err
	}
	e := &engineProc{url: "nats://" + addr, log: &syncbuf.Buffer{}, data: data}
	e.cmd = exec.Command(filepath.Join(binDir, "foreman-engine"), append([]string{"--examples", "--data", data, "--listen", addr, "--log-level", "info"}, extra...)...)
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	if err := e.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(e.log.String(), "foreman-engine ready") {
		if time.Now().After(deadline) || e.cmd.ProcessState != nil {
			e.stop()
			return nil, fmt.Errorf("foreman-engine did not become ready:\n%s", e.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e.node, err = jetstream.Dial(ctx, e.url, jetstream.Options{Name: "cli-e2e"}); err != nil {
		e.stop()
		return nil, err
	}
	e.client = engine.NewClient(e.node.Store, engine.ClientOptions{Identity: "test-setup"})
	return e, nil
}

func (e *engineProc) stop() {
	if e.node != nil {
		e.node.Close()
	}
	_ = e.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(e.data)
}

// startEngine runs an engine for one test.
func startEngine(t *testing.T, extra ...string) *engineProc {
	t.Helper()
	e, err := launchEngine(extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("foreman-engine log (tail):\n%s", tail(e.log.String(), 40))
		}
		e.stop()
	})
	return e
}

var shared struct {
	once sync.Once
	e    *engineProc
	err  error
}

// sharedEngine is one engine (with the test worker) for the tests that
// only need distinct workflow ids.
func sharedEngine(t *testing.T) *engineProc {
	t.Helper()
	shared.once.Do(func() {
		shared.e, shared.err = launchEngine()
		if shared.err == nil {
			shared.err = startTestWorker(shared.e.node.Store)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.e
}

func stopShared() {
	if shared.e != nil {
		stopTestWorkers()
		shared.e.stop()
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// result is one foreman invocation.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// fm runs the foreman binary as identity with stdin (may be nil).
func (e *engineProc) fm(t *testing.T, identity string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if !slices.Contains(args, "--creds") { // else the test authenticates itself
		args = append(e.asUser(t, identity), args...)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "foreman"), args...)
	cmd.Env = append(os.Environ(), "FOREMAN_NATS="+e.url, "FOREMAN_IDENTITY="+identity, "FOREMAN_READ_ONLY=")
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("foreman %v: %v", args, err)
	}
	return r
}

// ok runs foreman and fails the test unless it exits 0.
func (e *engineProc) ok(t *testing.T, identity string, args ...string) result {
	t.Helper()
	r := e.fm(t, identity, nil, args...)
	if r.code != 0 {
		t.Fatalf("foreman %v: want exit 0, got %s", args, r)
	}
	return r
}

// fails runs foreman and checks the exit code and that stderr says why.
func (e *engineProc) fails(t *testing.T, identity string, code int, want string, args ...string) result {
	t.Helper()
	r := e.fm(t, identity, nil, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Fatalf("foreman %v: want exit %d and stderr containing %q, got %s", args, code, want, r)
	}
	if r.stdout != "" {
		t.Fatalf("foreman %v failed but printed data on stdout: %s", args, r)
	}
	return r
}

// jsonOut decodes a successful invocation's stdout.
func jsonOut[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("decoding stdout: %v\n%s", err, r)
	}
	return v
}

// jsonLines decodes jsonl output.
func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var vs []T
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("decoding line %q: %v", sc.Text(), err)
		}
		vs = append(vs, v)
	}
	return vs
}

// waitFor polls cond until it holds, failing with what it last said.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// describe reads a run through the test-side client.
func (e *engineProc) describe(t *testing.T, id string) *engine.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	x, err := e.client.Describe(ctx, id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return x
}

// waitApproval waits until the run of id has a pending approval called name.
func (e *engineProc) waitApproval(t *testing.T, id, name string) *engine.Execution {
	t.Helper()
	var x *engine.Execution
	waitFor(t, id+" waiting on approval "+name, 20*time.Second, func() (bool, string) {
		x = e.describe(t, id)
		for _, p := range x.Approvals {
			if p.Name == name {
				return true, ""
			}
		}
		return false, fmt.Sprintf("status %s, line %q", x.Status, x.StatusLine)
	})
	return x
}

// waitStatus waits until the run of id has status s.
func (e *engineProc) waitStatus(t *testing.T, id string, s engine.Status) *engine.Execution {
	t.Helper()
	var x *engine.Execution
	waitFor(t, fmt.Sprintf("%s %s", id, s), 20*time.Second, func() (bool, string) {
		x = e.describe(t, id)
		return x.Status == s, string(x.Status) + " " + x.StatusLine
	})
	return x
}

// historyOf returns a run's events as `foreman history -o json` prints them.
func (e *engineProc) historyOf(t *testing.T, id string, extra ...string) []engine.Event {
	t.Helper()
	return jsonOut[[]engine.Event](t, e.ok(t, "auditor", append([]string{"history", id, "-o", "json"}, extra...)...))
}

func eventsOf[A any](events []engine.Event) []*A {
	var out []*A
	for _, e := range events {
		if a, ok := e.Attrs.(*A); ok {
			out = append(out, a)
		}
	}
	return out
}

// waitClosed waits until the current run of id is no longer running.
func (e *engineProc) waitClosed(t *testing.T, id string) *engine.Execution {
	t.Helper()
	var x *engine.Execution
	waitFor(t, id+" closed", 20*time.Second, func() (bool, string) {
		x = e.describe(t, id)
		return x.Status != engine.StatusRunning, string(x.Status) + " " + x.StatusLine
	})
	return x
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// asUser is the --creds flag that makes identity the principal: the
// engine records who authenticated, not FOREMAN_IDENTITY, so each identity
// the tests act as is a user of its own (admin: every action, as the
// local credentials), made once per engine with foreman-engine users add.
func (e *engineProc) asUser(t *testing.T, identity string) []string {
	t.Helper()
	e.usersMu.Lock()
	defer e.usersMu.Unlock()
	if creds, ok := e.users[identity]; ok {
		return []string{"--creds", creds}
	}
	if e.users == nil {
		e.users = map[string]string{}
	}
	creds := filepath.Join(e.data, "e2e-"+identity+".nk")
	out, err := exec.Command(filepath.Join(binDir, "foreman-engine"), "users", "add", identity, "--role", "admin", "-o", creds, "--nats", e.url).CombinedOutput()
	if err != nil {
		t.Fatalf("users add %s: %v\n%s", identity, err, out)
	}
	e.users[identity] = creds
	return []string{"--creds", creds}
}
