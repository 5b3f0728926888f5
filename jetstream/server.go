package jetstream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long StartEmbedded waits for the server to accept
// clients (JetStream recovers every stream from disk before that).
const readyTimeout = 60 * time.Second

// Server is an in-process nats-server with JetStream on a file store.
type Server struct {
	ns   *server.Server
	lock *dataLock
	once sync.Once
}

// StartEmbedded starts nats-server in this process with JetStream storing
// under opts.DataDir, listening on opts.Listen, and waits until it accepts
// clients. The server's own log goes to logger at debug level (warnings and
// errors keep their level); a nil logger discards it.
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
	ns, err := server.NewServer(sopts)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("starting embedded nats: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ns.SetLoggerV2(&slogAdapter{l: logger.With("component", "nats-server")}, false, false, false)
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
	return &Server{ns: ns, lock: lock}, nil
}

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
type slogAdapter struct{ l *slog.Logger }

func (a *slogAdapter) log(level slog.Level, format string, v []any) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	a.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.log(slog.LevelDebug, format, v) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.log(slog.LevelWarn, format, v) }
func (a *slogAdapter) Fatalf(format string, v ...any)  { a.log(slog.LevelError, format, v) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.log(slog.LevelError, format, v) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.log(slog.LevelDebug-4, format, v) }
func (a *slogAdapter) Tracef(format string, v ...any)  { a.log(slog.LevelDebug-8, format, v) }
