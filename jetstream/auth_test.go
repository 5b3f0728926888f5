package jetstream_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// mode fails the test unless path exists with exactly the permissions want.
func mode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Fatalf("%s: mode %o, want %o", path, got, want)
	}
}

// An embedded server creates its user key on the first start (0600 under
// <data>/auth), keeps it across restarts, refuses a connection without it,
// and leaves a copy where a client of the same OS user looks it up by URL:
// jetstream.Connect with no credentials given finds it; with another
// config directory it does not, and the error says what to do.
func TestEmbeddedServerRequiresCredentials(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv(jetstream.ConfigDirEnv, cfg)
	data := t.TempDir()
	srv, err := jetstream.StartEmbedded(jetstream.Options{DataDir: data, Listen: "127.0.0.1:-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	creds := filepath.Join(data, "auth", "local.nk")
	if srv.CredsFile() != creds {
		t.Fatalf("creds file %q, want %q", srv.CredsFile(), creds)
	}
	mode(t, creds, 0o600)
	mode(t, filepath.Dir(creds), 0o700)
	local, err := jetstream.LocalCredsPath(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if srv.LocalCredsFile() != local || !strings.HasPrefix(local, cfg) {
		t.Fatalf("local copy %q, want %q under %s", srv.LocalCredsFile(), local, cfg)
	}
	mode(t, local, 0o600)
	// The same server by another spelling of its URL finds the same file.
	port := srv.ClientURL()[strings.LastIndex(srv.ClientURL(), ":")+1:]
	if other, _ := jetstream.LocalCredsPath("localhost:" + port); other != local {
		t.Fatalf("localhost:%s looks up %q, want %q", port, other, local)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := nats.Connect(srv.ClientURL(), nats.NoReconnect())
	if err == nil {
		raw.Close()
		t.Fatal("a raw connection without credentials was accepted")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("raw connection: %v, want an authorization violation", err)
	}
	nc, err := jetstream.Connect(ctx, srv.ClientURL(), jetstream.Options{Name: "local"})
	if err != nil {
		t.Fatalf("a client of the same user, no credentials given: %v", err)
	}
	nc.Close()
	inproc, err := srv.Connect(ctx, jetstream.Options{})
	if err != nil {
		t.Fatalf("in process: %v", err)
	}
	inproc.Close()
	// Explicit credentials win over the lookup: the data directory's file.
	explicit, err := jetstream.Connect(ctx, srv.ClientURL(), jetstream.Options{CredsFile: creds})
	if err != nil {
		t.Fatalf("--creds %s: %v", creds, err)
	}
	explicit.Close()

	t.Setenv(jetstream.ConfigDirEnv, t.TempDir())
	_, err = jetstream.Connect(ctx, srv.ClientURL(), jetstream.Options{})
	if err == nil || !strings.Contains(err.Error(), jetstream.ConfigDirEnv) || !strings.Contains(err.Error(), "--creds") {
		t.Fatalf("another user's client: %v, want a refusal naming %s and --creds", err, jetstream.ConfigDirEnv)
	}

	before, _ := os.ReadFile(creds)
	srv.Shutdown()
	t.Setenv(jetstream.ConfigDirEnv, cfg)
	again, err := jetstream.StartEmbedded(jetstream.Options{DataDir: data, Listen: "127.0.0.1:-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Shutdown()
	if after, _ := os.ReadFile(creds); string(after) != string(before) {
		t.Fatal("a restart made a new key: clients given the old one are locked out")
	}
	nc, err = jetstream.Connect(ctx, again.ClientURL(), jetstream.Options{})
	if err != nil {
		t.Fatalf("after a restart on another port: %v", err)
	}
	nc.Close()
}

// An embedded server other hosts can reach must have TLS and
// authentication, or --insecure.
func TestExposedListenRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    jetstream.Options
		want string // "" when accepted
	}{
		{"wildcard without tls", jetstream.Options{Listen: "0.0.0.0:4222"}, "TLS"},
		{"empty host without tls", jetstream.Options{Listen: ":4222"}, "--insecure"},
		{"lan address without tls", jetstream.Options{Listen: "192.168.1.10:4222"}, "--insecure"},
		{"wildcard with tls", jetstream.Options{Listen: "0.0.0.0:4222", TLSCert: "c", TLSKey: "k"}, ""},
		{"tls but no auth", jetstream.Options{Listen: "0.0.0.0:4222", TLSCert: "c", TLSKey: "k", NoAuth: true}, "authentication"},
		{"insecure", jetstream.Options{Listen: "0.0.0.0:4222", Insecure: true}, ""},
		{"loopback", jetstream.Options{Listen: "127.0.0.1:4222", NoAuth: true}, ""},
		{"ipv6 loopback", jetstream.Options{Listen: "[::1]:4222"}, ""},
		{"external server", jetstream.Options{Listen: "0.0.0.0:4222", NATSURL: "nats://nats.internal:4222"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--insecure") {
				t.Fatalf("got %v, want a refusal naming %q and --insecure", err, tc.want)
			}
		})
	}
	o := jetstream.Options{DataDir: t.TempDir(), Listen: "0.0.0.0:-1"}
	if srv, err := jetstream.StartEmbedded(o, nil); err == nil {
		srv.Shutdown()
		t.Fatal("StartEmbedded listened on 0.0.0.0 without TLS")
	}
}

// With a certificate the embedded listener speaks TLS only, and with a CA
// it requires client certificates signed by it; the engine's own
// connection in process needs neither.
func TestEmbeddedServerTLS(t *testing.T) {
	t.Setenv(jetstream.ConfigDirEnv, t.TempDir())
	dir := t.TempDir()
	pki := newPKI(t, dir)
	srv, err := jetstream.StartEmbedded(jetstream.Options{DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:-1",
		TLSCert: pki.serverCert, TLSKey: pki.serverKey, TLSCA: pki.ca}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := srv.ClientURL()
	if !strings.HasPrefix(url, "tls://") {
		t.Fatalf("client url %q, want tls://", url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := jetstream.Options{TLSCert: pki.clientCert, TLSKey: pki.clientKey, TLSCA: pki.ca}
	nc, err := jetstream.Connect(ctx, url, client)
	if err != nil {
		t.Fatalf("client with certificate and local credentials: %v", err)
	}
	nc.Close()
	// Applying the user directory reloads the server's options, TLS
	// included: it must keep serving TLS as before.
	if err := srv.SetUsers(nil); err != nil {
		t.Fatalf("SetUsers on a TLS server: %v", err)
	}
	if nc, err = jetstream.Connect(ctx, url, client); err != nil {
		t.Fatalf("client after the users reload: %v", err)
	}
	nc.Close()
	inproc, err := srv.Connect(ctx, jetstream.Options{TLSCert: pki.serverCert, TLSKey: pki.serverKey, TLSCA: pki.ca})
	if err != nil {
		t.Fatalf("in process: %v", err)
	}
	inproc.Close()
	noCert := client
	noCert.TLSCert, noCert.TLSKey = "", ""
	if nc, err := jetstream.Connect(ctx, url, noCert); err == nil {
		nc.Close()
		t.Fatal("a client without a certificate was accepted")
	}
	plain := strings.Replace(url, "tls://", "nats://", 1)
	if nc, err := nats.Connect(plain, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a clear-text client was accepted")
	}
}

// Credentials an engine left for an address once served by it are not
// forced on the server that listens there now and asks for none (a port
// reused, an engine restarted with --no-auth): the client connects
// without them. Passed explicitly, they still fail.
func TestStaleLocalCredsForAServerWithoutAuth(t *testing.T) {
	t.Setenv(jetstream.ConfigDirEnv, t.TempDir())
	_, srv := jstest.Start(t)
	path, err := jetstream.LocalCredsPath(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := jetstream.Connect(ctx, srv.ClientURL(), jetstream.Options{})
	if err != nil {
		t.Fatalf("with stale local credentials: %v", err)
	}
	nc.Close()
	if _, err := jetstream.Connect(ctx, srv.ClientURL(), jetstream.Options{CredsFile: path}); !errors.Is(err, nats.ErrNkeysNotSupported) {
		t.Fatalf("explicit credentials the server cannot check: %v, want %v", err, nats.ErrNkeysNotSupported)
	}
}
