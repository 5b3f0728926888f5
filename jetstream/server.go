package jetstream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long StartEmbedded waits for the server to accept
// clients (JetStream recovers every stream from disk before that).
const readyTimeout = 60 * time.Second

// Server is an in-process nats-server with JetStream on a file store.
type Server struct {
	ns        *server.Server
	lock      *dataLock
	credsFile string          // "" when the server lets anyone in (Options.NoAuth)
	localFile string          // the copy for clients on this machine, if written
	localKey  string          // public key of credsFile
	base      *server.Options // as started, before the directory's users
	usersMu   sync.Mutex
	shards    atomic.Int32                       // the store's shard count (SetShards); 0 is one
	logNames  *atomic.Pointer[map[string]string] // the log adapter's key -> user
	authn     *nkeyAuthn                         // nil with NoAuth
	once      sync.Once
}

// StartEmbedded starts nats-server in this process with JetStream storing
// under opts.DataDir, listening on opts.Listen, and waits until it accepts
// clients. The server's own log goes to logger at debug level (warnings and
// errors keep their level); a nil logger discards it.
//
// Unless opts.NoAuth, the server accepts only clients signed by the user
// key it keeps under <DataDir>/auth (created on the first start), and
// leaves a copy for clients of the same OS user at LocalCredsPath of its
// URL. With opts.TLSCert it speaks TLS; with opts.TLSCA it also requires
// client certificates signed by that CA.
func StartEmbedded(opts Options, logger *slog.Logger) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.DataDir == "" {
		return nil, fmt.Errorf("starting embedded nats: data directory not set")
	}
	opts = opts.withDefaults()
	host, port, err := splitListen(opts.Listen)
	if err != nil {
		return nil, err
	}
	// Before the server opens the file store: a second server on it
	// would corrupt it.
	lock, err := lockDataDir(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("starting embedded nats: %w", err)
	}
	// nats-server only logs a listener it cannot open and the wait for it
	// would time out; a taken port is the usual cause, so say so at once
	// (after the lock: a second engine on this data hears about that first).
	if port > 0 {
		l, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			lock.release()
			return nil, fmt.Errorf("starting embedded nats: port %d (%s) is taken, by another process or nats-server; pass another --listen: %w", port, opts.Listen, err)
		}
		l.Close()
	}
	var credsFile string
	sopts := &server.Options{
		ServerName:             opts.Name,
		Host:                   host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               opts.DataDir,
		MaxPayload:             MaxPayload,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
		SyncAlways:             opts.Sync == SyncAlways,
	}
	if err := secureServer(sopts, opts, &credsFile); err != nil {
		lock.release()
		return nil, fmt.Errorf("starting embedded nats: %w", err)
	}
	base := sopts.Clone() // NewServer changes what it is given
	ns, err := server.NewServer(sopts)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("starting embedded nats: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	adapter := &slogAdapter{l: logger.With("component", "nats-server")}
	ns.SetLoggerV2(adapter, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		lock.release()
		return nil, fmt.Errorf("starting embedded nats on %s (data %s): not ready after %s", opts.Listen, opts.DataDir, readyTimeout)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		lock.release()
		return nil, fmt.Errorf("starting embedded nats: jetstream did not start (data %s)", opts.DataDir)
	}
	s := &Server{ns: ns, lock: lock, credsFile: credsFile, base: base, logNames: &adapter.names}
	if a, ok := base.CustomClientAuthentication.(*nkeyAuthn); ok {
		s.authn = a
		for k := range *a.users.Load() {
			s.localKey = k
		}
	}
	if credsFile != "" {
		// Not fatal: clients can still be given --creds.
		if s.localFile, err = publishLocalCreds(s.ClientURL(), credsFile); err != nil {
			logger.Warn("clients on this machine will not find the engine's credentials; pass them --creds", "creds", credsFile, "err", err)
		}
	}
	return s, nil
}

// secureServer adds authentication (a user nkey, its public key the only
// one the server accepts) and TLS to sopts; credsFile receives the path of
// the user's seed.
func secureServer(sopts *server.Options, opts Options, credsFile *string) error {
	if !opts.NoAuth {
		path, pub, err := serverCreds(opts.DataDir)
		if err != nil {
			return err
		}
		// nonce and key set as for opts.Nkeys, checked by nkeyAuthn so that
		// users change without reloading the server (server_authn.go)
		sopts.AlwaysEnableNonce = true
		sopts.CustomClientAuthentication = newNkeyAuthn(pub)
		*credsFile = path
	}
	if opts.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: opts.TLSCert, KeyFile: opts.TLSKey, CaFile: opts.TLSCA, Verify: opts.TLSCA != ""})
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		sopts.TLSConfig, sopts.TLS, sopts.TLSVerify = tc, true, opts.TLSCA != ""
		sopts.TLSTimeout = 5
	}
	return nil
}

// CredsFile is the file of the user key the server accepts (under its
// data directory); "" when it accepts anyone.
func (s *Server) CredsFile() string { return s.credsFile }

// LocalCredsFile is the copy of CredsFile that clients on this machine
// find by the server's URL; "" when none was written.
func (s *Server) LocalCredsFile() string { return s.localFile }

// ClientURL is the URL clients in other processes connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// SyncAlways reports whether JetStream fsyncs every write.
func (s *Server) SyncAlways() bool {
	cfg := s.ns.JetStreamConfig()
	return cfg != nil && cfg.SyncAlways
}

// NATSServer exposes the underlying server (for monitoring or in-process
// connections).
func (s *Server) NATSServer() *server.Server { return s.ns }

// Shutdown stops the server gracefully (streams flushed and closed) and
// waits until it has stopped. Calling it again does nothing.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.lock.release()
	})
}

// slogAdapter routes nats-server's log to slog: notices at debug (the
// server is chatty at start), warnings and errors at their level.
type slogAdapter struct {
	l *slog.Logger
	// names maps the public keys of the directory's users to their names
	// (Server.SetUsers), so that a refused publish the server logs says
	// whose it was.
	names atomic.Pointer[map[string]string]
}

func (a *slogAdapter) log(level slog.Level, format string, v []any) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	msg := fmt.Sprintf(format, v...)
	if names := a.names.Load(); names != nil && strings.Contains(msg, "nkey:") {
		for pub, name := range *names {
			msg = strings.ReplaceAll(msg, "nkey:"+pub, "nkey:"+pub+" (user "+name+")")
		}
	}
	a.l.Log(context.Background(), level, msg)
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.log(slog.LevelDebug, format, v) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.log(slog.LevelWarn, format, v) }
func (a *slogAdapter) Fatalf(format string, v ...any)  { a.log(slog.LevelError, format, v) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.log(slog.LevelError, format, v) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.log(slog.LevelDebug-4, format, v) }
func (a *slogAdapter) Tracef(format string, v ...any)  { a.log(slog.LevelDebug-8, format, v) }
