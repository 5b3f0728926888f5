package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by Options.withDefaults.
const (
	DefaultListen   = "127.0.0.1:4222"
	DefaultSync     = SyncInterval
	DefaultReplicas = 1
	DefaultAckWait  = 5 * time.Second

	// SyncAlways fsyncs every write: an OS crash loses nothing acknowledged,
	// at ~10x the publish latency.
	SyncAlways = "always"
	// SyncInterval is the NATS default: writes reach the OS at once and are
	// fsynced every couple of minutes; an OS crash (not a process crash) can
	// lose the last seconds.
	SyncInterval = "interval"

	// MaxPayload is the largest message the embedded server accepts.
	MaxPayload = 8 << 20
)

// Options configure the embedded server, the connection and the store.
// The zero value is usable for a connection; StartEmbedded needs DataDir.
type Options struct {
	// DataDir holds the embedded server's file store.
	DataDir string
	// Listen is the embedded server's client address, host:port; default
	// 127.0.0.1:4222. Port 0 or -1 picks a random free port.
	Listen string
	// NATSURL, when set, connects to an existing server or cluster instead
	// of embedding one.
	NATSURL string
	// CredsFile, TLSCert, TLSKey and TLSCA secure the connection. Without
	// CredsFile a client uses the credentials an engine on this machine
	// left for the URL it dials (LocalCredsPath), if any. For the embedded
	// server (no NATSURL), TLSCert and TLSKey are its certificate and key,
	// and TLSCA, when set, makes it require client certificates signed by
	// that CA.
	CredsFile, TLSCert, TLSKey, TLSCA string
	// NoAuth lets the embedded server accept connections without
	// credentials: for in-process test servers. By default it creates a
	// user key under DataDir and refuses every connection not signed by it.
	NoAuth bool
	// Insecure allows the embedded server to listen on an address other
	// hosts reach without TLS (or without authentication); refused
	// otherwise.
	Insecure bool
	// Sync is "always" (fsync every write) or "interval" (the default).
	Sync string
	// Replicas is the replica count of every stream and bucket: 1 (default)
	// for one server, 3 for a cluster.
	Replicas int
	// Shards is how many history and task streams runs are spread over,
	// by a hash of the run (shards.go): fixed when the data is created
	// (default 1); 0 opens existing data with whatever it has, and a
	// different count than the data has is refused (ErrShardsFixed).
	Shards int
	// Name is the client connection name shown by the server.
	Name string
	// AckWait is how long a delivered task or history batch may stay
	// unacknowledged before it is redelivered; default 5s, short so that a
	// crashed worker's tasks come back fast. Workers extend it with
	// InProgress while a long activity runs.
	AckWait time.Duration
	// Logger receives connection events (disconnects, reconnects, async
	// errors) and the embedded server's log; nil discards them.
	Logger *slog.Logger

	// user is the principal of a connection whose credentials file does
	// not name one (the engine's own, in process).
	user string
}

// Validate reports the first bad value, naming it.
func (o Options) Validate() error {
	var errs []error
	if o.Listen != "" {
		if _, _, err := splitListen(o.Listen); err != nil {
			errs = append(errs, err)
		}
	}
	switch o.Sync {
	case "", SyncAlways, SyncInterval:
	default:
		errs = append(errs, fmt.Errorf("sync %q: must be %q or %q", o.Sync, SyncAlways, SyncInterval))
	}
	if o.Replicas < 0 || o.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: must be between 1 and 5", o.Replicas))
	}
	if o.Shards < 0 || o.Shards > MaxShards {
		errs = append(errs, fmt.Errorf("shards %d: must be between 1 and %d", o.Shards, MaxShards))
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		errs = append(errs, fmt.Errorf("tls: certificate %q and key %q must be given together", o.TLSCert, o.TLSKey))
	}
	if err := o.checkExposure(); err != nil {
		errs = append(errs, err)
	}
	if o.AckWait < 0 || (o.AckWait > 0 && o.AckWait < 100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("ack wait %s: must be at least 100ms", o.AckWait))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("jetstream options: %w", err)
	}
	return nil
}

// checkExposure refuses an embedded server that other hosts can reach
// while it talks in clear text or lets anyone in, unless Insecure says so.
func (o Options) checkExposure() error {
	if o.NATSURL != "" || o.Insecure {
		return nil
	}
	host, _, err := splitListen(o.withDefaults().Listen)
	if err != nil || isLoopback(host) {
		return nil // a bad Listen is reported on its own
	}
	var missing []string
	if o.NoAuth {
		missing = append(missing, "authentication")
	}
	if o.TLSCert == "" {
		missing = append(missing, "TLS (--tls-cert and --tls-key)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("listen %q: reachable from other hosts without %s; use a loopback address such as %s, give the server a certificate, or pass --insecure to accept the risk", o.Listen, strings.Join(missing, " or "), DefaultListen)
}

// withDefaults fills in unset fields.
func (o Options) withDefaults() Options {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Sync == "" {
		o.Sync = DefaultSync
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas
	}
	if o.AckWait == 0 {
		o.AckWait = DefaultAckWait
	}
	if o.Name == "" {
		o.Name = "foreman"
	}
	return o
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// splitListen parses host:port; port 0 and -1 both mean "random" and come
// back as -1, nats-server's spelling of it.
func splitListen(listen string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen %q: want host:port: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("listen %q: port must be a number between -1 and 65535", listen)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}
