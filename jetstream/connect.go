package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Connection tuning: reconnect forever, buffering what is published while
// disconnected (several max-size messages).
const (
	reconnectWait    = 500 * time.Millisecond
	reconnectBufSize = 4 * MaxPayload
	connectTimeout   = 5 * time.Second
	pingInterval     = 5 * time.Second
	maxPingsOut      = 3
)

// Connect opens a client connection to url with the credentials, TLS files
// and name of opts. The connection reconnects forever. Without
// opts.CredsFile it uses the credentials a foreman-engine on this machine
// left for url (LocalCredsPath), if there are any.
func Connect(ctx context.Context, url string, opts Options) (*nats.Conn, error) {
	return connect(ctx, url, opts)
}

// Connect opens a client connection to the embedded server in process,
// without TCP: what the engine's own roles (services, indexer, workers it
// hosts) use. A round trip through loopback TCP costs ~0.17 ms on a small
// VM, three times one in process, and a workflow makes about eleven in a
// row. Processes elsewhere connect to ClientURL.
func (s *Server) Connect(ctx context.Context, opts Options) (*nats.Conn, error) {
	// The server's own key; no TLS in process (the server does not ask for
	// it there), and opts' TLS files are the server's, not a client's.
	opts.CredsFile, opts.TLSCert, opts.TLSKey, opts.TLSCA = s.credsFile, "", "", ""
	if s.credsFile != "" {
		opts.user = LocalUser() // the engine's own key is the local principal's
	}
	url := strings.Replace(s.ClientURL(), "tls://", "nats://", 1)
	return connect(ctx, url, opts, nats.InProcessServer(s.ns))
}

func connect(ctx context.Context, url string, opts Options, extra ...nats.Option) (*nats.Conn, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", url, err)
	}
	opts = opts.withDefaults()
	log := opts.logger()
	timeout := connectTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	nopts := []nats.Option{
		nats.Name(opts.Name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		// A server that vanishes without closing its sockets (a machine
		// lost, a network cut) is noticed when pings go unanswered: with
		// nats.go's defaults (2 minutes, 2 outstanding) a client sat on
		// the dead connection for up to 6 minutes before it reconnected to
		// another node. Here: within about 15 s. A ping is a few bytes.
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.ReconnectBufSize(reconnectBufSize),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				denied(nc, err)
			}
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", "subject", subj, "err", err)
		}),
	}
	creds := opts.CredsFile
	if creds == "" {
		creds = localCreds(url)
	}
	user := opts.user
	if creds != "" {
		o, err := credsOption(creds)
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", url, err)
		}
		nopts = append(nopts, o)
		if u := CredsUser(creds); u != "" {
			// A user's permissions let it subscribe to its own inbox
			// prefix only (perms.go).
			user = u
			nopts = append(nopts, nats.CustomInboxPrefix(InboxPrefix(u)))
		}
	}
	if opts.TLSCert != "" {
		nopts = append(nopts, nats.ClientCert(opts.TLSCert, opts.TLSKey))
	}
	if opts.TLSCA != "" {
		nopts = append(nopts, nats.RootCAs(opts.TLSCA))
	}
	nopts = append(nopts, nats.ClosedHandler(func(nc *nats.Conn) {
		connUsers.Delete(nc)
		connCreds.Delete(nc)
		connKeys.Delete(nc)
		deniedFns.Delete(nc)
	}))
	nc, err := nats.Connect(url, append(nopts, extra...)...)
	if errors.Is(err, nats.ErrAuthorization) {
		return nil, fmt.Errorf("connecting to %s: %w (%s)", url, err, credsHint(url, creds))
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", url, err)
	}
	if user != "" {
		connUsers.Store(nc, user)
		if creds != "" {
			connCreds.Store(nc, creds)
		}
	}
	return nc, nil
}

// credsHint says what to do when the server refused the credentials used
// (or their absence).
func credsHint(url, used string) string {
	if u := CredsUser(used); u != "" && u != LocalUser() {
		return "credentials " + used + " of user " + u + " were refused: the user was revoked or is unknown to the engine at this URL (foreman-engine users list)"
	}
	if used != "" {
		return "credentials " + used + " were refused: the engine at this URL has other ones (pass --creds <its data dir>/auth/local.nk)"
	}
	where, err := LocalCredsPath(url)
	if err != nil {
		where = err.Error()
	}
	return "the server requires credentials and none were found at " + where + ": run as the OS user that started foreman-engine, set " + ConfigDirEnv + " as it had it, or pass --creds <its data dir>/auth/local.nk"
}
