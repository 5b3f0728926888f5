package main_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/nats-io/nats.go"
)

// The real binary: starts embedded NATS, runs the example workers, serves a
// client in another process, and shuts down cleanly on SIGTERM.
func TestEngineBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "foreman-engine")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + strconv.Itoa(jstest.FreePort(t))
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--data", filepath.Join(dir, "data"), "--listen", addr, "--examples", "--log-level", "warn")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var nc *nats.Conn
	var store *jetstream.Store
	var err error
	for store == nil { // the engine is starting: retry until it answers
		if nc == nil {
			nc, err = jetstream.Connect(ctx, "nats://"+addr, jetstream.Options{})
		}
		if nc != nil {
			store, err = jetstream.Open(ctx, nc, jetstream.Options{})
		}
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("engine never answered: %v\n%s", err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer nc.Close()
	unauthenticatedRefused(t, "nats://"+addr, filepath.Join(dir, "data"))
	secondEngineRefused(t, bin, filepath.Join(dir, "data"), cmd.Process.Pid)
	c := engine.NewClient(store, engine.ClientOptions{Identity: "ops"})
	in := examples.OrderInput{OrderID: "e2e", Amount: 1500}
	if _, err := c.Start(ctx, engine.StartOptions{ID: "order-e2e", TaskQueue: examples.OrderQueue}, examples.OrderFulfillment, in); err != nil {
		t.Fatal(err)
	}
	for {
		x, err := c.Describe(ctx, "order-e2e", "")
		if err == nil && len(x.Approvals) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no pending approval: %+v %v\n%s", x, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Decide(ctx, "order-e2e", "", "manager", true, "ship it"); err != nil {
		t.Fatal(err)
	}
	var tracking string
	if err := c.GetResult(ctx, "order-e2e", "", &tracking); err != nil || tracking != "TRK-e2e" {
		t.Fatalf("result %q %v", tracking, err)
	}
	_ = store.Close()
	nc.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no clean shutdown after SIGTERM\n%s", logs.String())
	}
}

// secondEngineRefused starts a second engine on a running one's data
// directory: it must exit at once, naming the first, before its embedded
// server opens the file store (two servers on one store corrupt it).
func secondEngineRefused(t *testing.T, bin, data string, firstPid int) {
	t.Helper()
	var stderr bytes.Buffer
	second := exec.Command(bin, "--data", data, "--listen", "127.0.0.1:"+strconv.Itoa(jstest.FreePort(t)))
	second.Stderr = &stderr
	done := make(chan error, 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("second engine on the same data: exit %v, want 1\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		second.Process.Kill()
		t.Fatalf("second engine on the same data still running after 15s\n%s", stderr.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, "data directory in use") || !strings.Contains(msg, "pid="+strconv.Itoa(firstPid)) {
		t.Fatalf("second engine's refusal does not name the first (pid %d):\n%s", firstPid, msg)
	}
}

// unauthenticatedRefused: the engine made its credentials under its data
// directory (0600) and left a copy for clients of this user (which the
// test's jetstream.Connect just used, given no credentials); a plain NATS
// client without them is refused.
func unauthenticatedRefused(t *testing.T, url, data string) {
	t.Helper()
	for _, p := range []string{filepath.Join(data, "auth", "local.nk"), localCreds(t, url)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %o, want 600", p, fi.Mode().Perm())
		}
	}
	raw, err := nats.Connect(url, nats.NoReconnect())
	if err == nil {
		raw.Close()
		t.Fatal("foreman-engine accepted a NATS connection without credentials")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connection without credentials: %v, want an authorization violation", err)
	}
}

func localCreds(t *testing.T, url string) string {
	t.Helper()
	p, err := jetstream.LocalCredsPath(url)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Listening where other hosts reach the engine without TLS is refused at
// once, the error naming TLS and --insecure; --insecure lets it start.
func TestEngineRefusesExposedListen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "foreman-engine")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--listen", "0.0.0.0:"+strconv.Itoa(jstest.FreePort(t)), "--data", filepath.Join(dir, "data"))
	began := time.Now()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("--listen 0.0.0.0 without TLS: %v, want a non-zero exit\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--insecure")) || !bytes.Contains(out, []byte("TLS")) {
		t.Fatalf("refusal does not name TLS and --insecure:\n%s", out)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("refused only after %s", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("the refused engine created its data directory")
	}
	t.Logf("refusal: %s", out)
}

func TestEngineRejectsBadFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, err := exec.Command("go", "run", ".", "--sync", "sometimes").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(`sync "sometimes"`)) {
		t.Fatalf("bad --sync: %v\n%s", err, out)
	}
}
