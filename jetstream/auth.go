package jetstream

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/foremanhq/foreman/internal/auth"
)

// ConfigDirEnv overrides where the local credentials of engines on this
// machine are kept (default os.UserConfigDir()/foreman): tests point it at
// a temporary directory, so that they never write into the user's.
const ConfigDirEnv = "FOREMAN_CONFIG_DIR"

// authDir is the directory under the data directory that holds the
// embedded server's credentials; localCredsName is the file of the user
// every same-machine client connects as.
const (
	authDir        = "auth"
	localCredsName = "local.nk"
)

// ConfigDir is where an engine leaves the credentials of its embedded
// server for clients of the same OS user ($FOREMAN_CONFIG_DIR, else
// os.UserConfigDir()/foreman).
func ConfigDir() (string, error) {
	if d := os.Getenv(ConfigDirEnv); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the config directory (set %s): %w", ConfigDirEnv, err)
	}
	return filepath.Join(d, "foreman"), nil
}

// LocalCredsPath is the file where the credentials of the engine serving
// serverURL are kept for clients on this machine, the way kubectl keys its
// kubeconfig by cluster: one file per server, named after host and port,
// loopback and wildcard hosts all spelled "localhost" since a client on
// this machine reaches a server listening on any of them through
// 127.0.0.1. The scheme (nats, tls) does not matter: it is one server.
func LocalCredsPath(serverURL string) (string, error) {
	key, err := credsKey(serverURL)
	if err != nil {
		return "", err
	}
	dir, err := ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "credentials", key+".nk"), nil
}

func credsKey(serverURL string) (string, error) {
	s := strings.TrimSpace(serverURL)
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("server url %q: want [nats://]host:port", serverURL)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = "4222"
	}
	if isLocalHost(host) {
		host = "localhost"
	}
	// Keep file names portable: an IPv6 address has colons.
	host = strings.NewReplacer(":", "_", "%", "_", "/", "_").Replace(host)
	return host + "_" + port, nil
}

// isLocalHost: the host only this machine reaches (loopback), or every
// address of it (a wildcard listener, which a client here reaches through
// loopback).
func isLocalHost(host string) bool {
	if host == "localhost" || host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// isLoopback: only processes on this machine can reach a listener on host.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverCreds returns the embedded server's user key, creating it on the
// first start: a NATS nkey user seed in <data>/auth/local.nk (0600, its
// directory 0700). The server knows only the public key; a client proves
// it holds the seed by signing the server's nonce.
func serverCreds(dataDir string) (path string, pub string, err error) {
	dir := filepath.Join(dataDir, authDir)
	path = filepath.Join(dir, localCredsName)
	seed, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if seed, err = newUserSeed(); err == nil {
			err = writeSecret(path, seed)
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("engine credentials %s: %w", path, err)
	}
	kp, err := nkeys.ParseDecoratedUserNKey(seed)
	if err != nil {
		return "", "", fmt.Errorf("engine credentials %s: %w", path, err)
	}
	defer kp.Wipe()
	if pub, err = kp.PublicKey(); err != nil {
		return "", "", fmt.Errorf("engine credentials %s: %w", path, err)
	}
	// The file names its principal, the OS user running the engine, so
	// that a client given a copy (--creds) knows who it is; rewritten
	// when another OS user runs the engine on this data.
	raw, err := kp.Seed()
	if err == nil {
		raw, err = jwt.DecorateSeed(raw)
	}
	if err != nil {
		return "", "", fmt.Errorf("engine credentials %s: %w", path, err)
	}
	if want := credsWithUser(raw, LocalUser(), auth.Admin); !bytes.Equal(want, seed) {
		if err := writeSecret(path, want); err != nil {
			return "", "", fmt.Errorf("engine credentials %s: %w", path, err)
		}
	}
	return path, pub, nil
}

// newUserSeed makes a user nkey and returns its seed in the decorated form
// nats and nsc write (.nk/.creds files).
func newUserSeed() ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	return jwt.DecorateSeed(seed)
}

// writeSecret writes data to path readable by its owner only, creating the
// directory (0700); a reader never sees half a file (temp file, rename).
func writeSecret(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing left to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// publishLocalCreds copies the server's credentials to the file clients on
// this machine look up for clientURL (LocalCredsPath).
func publishLocalCreds(clientURL, credsFile string) (string, error) {
	path, err := LocalCredsPath(clientURL)
	if err != nil {
		return "", err
	}
	seed, err := os.ReadFile(credsFile)
	if err != nil {
		return "", err
	}
	if err := writeSecret(path, seed); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// credsOption authenticates with the file at path: a JWT credentials file
// (nsc, an operator-mode cluster) or a bare nkey seed (what the embedded
// server creates).
func credsOption(path string) (nats.Option, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if bytes.Contains(data, []byte("USER JWT")) {
		return nats.UserCredentials(path), nil
	}
	opt, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	return opt, nil
}

// localCreds finds the credentials an engine on this machine left for one
// of the servers of url (a comma-separated list); "" when there are none.
func localCreds(urls string) string {
	for _, u := range strings.Split(urls, ",") {
		path, err := LocalCredsPath(u)
		if err != nil {
			continue
		}
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	return ""
}
