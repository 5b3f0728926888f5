package e2e_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// takePort listens on a free loopback port for the test's life, as a
// nats-server already on 4222 would.
func takePort(t *testing.T) (addr, port string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String(), strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// runBounded runs a command with a 20 s bound and returns its combined output, exit
// code and duration.
func runBounded(t *testing.T, name string, args []string, env ...string) (string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	took := time.Since(began)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out.String())
	}
	return out.String(), code, took
}

// `make demo` with its port taken (issue 19, finding 3) fails at once,
// naming the port and how to move the demo, instead of waiting 30 s and
// opening a console on nothing.
func TestDemoPortTaken(t *testing.T) {
	addr, port := takePort(t)
	out, code, took := runBounded(t, filepath.Join(repoRoot(), "scripts", "demo.sh"), nil,
		"BIN="+bin, "DATA="+t.TempDir(), "LISTEN="+addr)
	t.Logf("demo.sh exited %d after %s:\n%s", code, took.Round(time.Millisecond), out)
	if code == 0 || took > 5*time.Second {
		t.Fatalf("demo.sh with port %s taken: exit %d after %s, want non-zero within 5 s", port, code, took)
	}
	for _, want := range []string{"port " + port, "make demo LISTEN=127.0.0.1:4333", "4222"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo.sh's message lacks %q", want)
		}
	}
}

// The engine itself, started on a taken port (make engine, or a port
// taken between the script's check and the start), fails at once naming it.
func TestEnginePortTaken(t *testing.T) {
	addr, port := takePort(t)
	out, code, took := runBounded(t, filepath.Join(bin, "foreman-engine"), []string{"--data", t.TempDir(), "--listen", addr})
	t.Logf("foreman-engine exited %d after %s:\n%s", code, took.Round(time.Millisecond), out)
	if code == 0 || took > 5*time.Second || !strings.Contains(out, "port "+port) || !strings.Contains(out, "--listen") {
		t.Fatalf("foreman-engine with port %s taken: exit %d after %s, want non-zero within 5 s naming the port and --listen", port, code, took)
	}
}
