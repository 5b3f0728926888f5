// Package jstest starts an embedded JetStream server and opens a store on
// it for tests: one server per test, storage in the test's temp dir,
// everything stopped by t.Cleanup.
package jstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/foremanhq/foreman/jetstream"
)

// Start runs an embedded server on a random port in t.TempDir() and opens
// a store on it.
func Start(t testing.TB) (*jetstream.Store, *jetstream.Server) {
	t.Helper()
	return StartIn(t, t.TempDir(), jetstream.Options{})
}

// StartIn runs an embedded server storing in dir (reuse a dir to test a
// restart) with opts (DataDir and a random Listen port are filled in when
// unset) and opens a store on it. The server accepts clients without
// credentials (Options.NoAuth), so that tests connect to it with plain
// NATS clients and write nothing into the user's config directory;
// authentication is tested on servers started by StartEmbedded itself. Cleanup closes the store and the
// connection and shuts the server down; calling srv.Shutdown earlier is
// fine.
func StartIn(t testing.TB, dir string, opts jetstream.Options) (*jetstream.Store, *jetstream.Server) {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = dir
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:-1"
	}
	if opts.Name == "" {
		opts.Name = "jstest"
	}
	opts.NoAuth = true
	srv, err := jetstream.StartEmbedded(opts, nil)
	if err != nil {
		t.Fatalf("jstest: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := jetstream.Connect(ctx, srv.ClientURL(), opts)
	if err != nil {
		t.Fatalf("jstest: %v", err)
	}
	t.Cleanup(nc.Close)
	st, err := jetstream.Open(ctx, nc, opts)
	if err != nil {
		t.Fatalf("jstest: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, srv
}

// CheckFor calls fn every `every` until it returns nil, failing the test
// with fn's last error if that has not happened within total.
func CheckFor(t testing.TB, total, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(every)
	}
	t.Fatalf("jstest: condition not met after %s: %v", total, err)
}

// IsolateConfigDir points jetstream.ConfigDirEnv at a new temporary
// directory for the rest of the process: call it from TestMain, so that
// the authenticated engines the tests start (in process or as binaries,
// which inherit the environment) leave their credentials there and the
// clients find them there, never in the user's config directory. The
// returned func removes the directory.
func IsolateConfigDir() (remove func(), err error) {
	dir, err := os.MkdirTemp("", "foreman-test-config-")
	if err != nil {
		return nil, fmt.Errorf("jstest: config dir: %w", err)
	}
	if err := os.Setenv(jetstream.ConfigDirEnv, dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("jstest: config dir: %w", err)
	}
	return func() { os.RemoveAll(dir) }, nil
}

// VerifyTestMain is a TestMain that isolates the config directory
// (IsolateConfigDir) and fails the package when a goroutine outlives the
// tests (goleak.VerifyTestMain with opts).
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	remove, err := IsolateConfigDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, append(opts, goleak.Cleanup(func(code int) { remove(); os.Exit(code) }))...)
}

// FreePort returns a loopback TCP port nobody listens on right now, for a
// server a test starts in another process.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// MetaPeersCurrent reports whether the JetStream meta leader among srvs
// (nil entries are servers that are down) counts every other one of them
// as a current peer: before that, an R3 stream finds "no suitable peers
// for placement".
func MetaPeersCurrent(srvs []*server.Server) bool {
	for _, s := range srvs {
		if s == nil || !s.JetStreamIsLeader() {
			continue
		}
		jsz, err := s.Jsz(nil)
		if err != nil || jsz.Meta == nil || len(jsz.Meta.Replicas) != len(srvs)-1 {
			return false
		}
		for _, p := range jsz.Meta.Replicas {
			if !p.Current || p.Offline {
				return false
			}
		}
		return true
	}
	return false
}
