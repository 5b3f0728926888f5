// Command foreman-engine runs Foreman: an embedded NATS JetStream server
// (or a connection to an existing one with --nats), the engine's services
// (dispatcher, durable timers, start sweeper), the search index with its
// API and, with --examples or --demo, workers for the example workflows.
// `foreman-engine reindex` rebuilds the search index from history.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/tracing"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/internal/gctune"
	"github.com/foremanhq/foreman/internal/lograte"
	"github.com/foremanhq/foreman/internal/metrics"
	"github.com/foremanhq/foreman/internal/users"
	"github.com/foremanhq/foreman/jetstream"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "foreman-engine:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) > 1 && os.Args[1] == "users" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return users.Main(ctx, os.Args[2:], os.Stdout, os.Stderr)
	}
	var (
		opts     jetstream.Options
		logLevel string
		withEx   bool
		demo     bool
		idxDir   string
		metricsL string
		auditRet time.Duration
		notifyEv time.Duration
	)
	flag.StringVar(&opts.DataDir, "data", "./foreman-data", "directory of the embedded server's file store")
	flag.StringVar(&opts.Listen, "listen", jetstream.DefaultListen, "address the embedded server listens on (host:port)")
	flag.StringVar(&opts.NATSURL, "nats", os.Getenv("FOREMAN_NATS"), "use an existing NATS server or cluster at this URL instead of embedding one (default $FOREMAN_NATS, which the console also reads; unset it to embed a server)")
	flag.StringVar(&opts.CredsFile, "creds", "", "NATS credentials file (with --nats; the embedded server makes its own under <data>/auth)")
	flag.StringVar(&opts.TLSCert, "tls-cert", "", "TLS certificate: the embedded server's, or the client's with --nats")
	flag.StringVar(&opts.TLSKey, "tls-key", "", "TLS key of --tls-cert")
	flag.StringVar(&opts.TLSCA, "tls-ca", "", "CA certificate: the embedded server requires client certificates it signed; with --nats, verifies the server")
	flag.BoolVar(&opts.Insecure, "insecure", false, "allow --listen on an address other hosts reach without TLS")
	flag.StringVar(&opts.Sync, "sync", jetstream.SyncInterval, "durability: always (fsync every write) or interval (OS crash may lose the last seconds)")
	flag.IntVar(&opts.Replicas, "replicas", 0, "replicas of every stream (default 1 embedded, 3 with --nats)")
	flag.IntVar(&opts.Shards, "shards", 0, "history and task streams runs are spread over, fixed when the data is created (default 1; existing data keeps its own count)")
	flag.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	flag.BoolVar(&withEx, "examples", false, "run workers for the example workflows")
	flag.BoolVar(&demo, "demo", false, "run the example workers and keep starting demo executions")
	flag.StringVar(&idxDir, "index-dir", "", "directory of the search index (default <data>/index)")
	flag.StringVar(&metricsL, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (off by default; a bare port is loopback; other hosts need --insecure)")
	flag.DurationVar(&auditRet, "audit-retention", audit.DefaultRetention, "how long the audit trail (stream FM_AUDIT) keeps each record")
	flag.DurationVar(&notifyEv, "notify-every", 5*time.Second, "how often the notification rules (foreman notify) are evaluated against the index")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: foreman-engine [flags]\n       foreman-engine reindex [flags]   rebuild the search index from history (engine stopped)\n       foreman-engine users ...          add, list and revoke users; print NATS permissions (users -h)\n")
		flag.PrintDefaults()
		fmt.Fprintf(flag.CommandLine.Output(), "environment:\n  FOREMAN_NATS        default of --nats\n  FOREMAN_CPUPROFILE  write a CPU profile of the whole run to this file (on shutdown), for profiling under load\n  GOGC                the Go collector's target; default: up to 400 while the heap fits in 512 MB, Go's 100 beyond\n")
	}
	args, reindexing := os.Args[1:], false
	if len(args) > 0 && args[0] == "reindex" {
		args, reindexing = args[1:], true
	}
	if err := flag.CommandLine.Parse(args); err != nil {
		return err
	}
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see -h)", flag.Arg(0))
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	// Repeated warnings (a retry loop against a full disk) are written once
	// per window with a count, not once per retry.
	log := slog.New(engine.NewLogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}), lograte.DefaultWindow))
	opts.Logger, opts.Name = log, "foreman-engine"
	if natsSource := natsURLSource(); opts.NATSURL != "" && natsSource != "" {
		// FOREMAN_NATS is the console's setting too: an operator who
		// exported it for the console gets an engine that does not embed a
		// server; say so rather than fail with "no servers available".
		log.Info("using an existing NATS server instead of embedding one", "url", opts.NATSURL, "from", natsSource)
	}
	if opts.Replicas == 0 && opts.NATSURL != "" {
		opts.Replicas = 3
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if metricsL != "" {
		// Refused before anything starts, as --listen is.
		addr, err := metrics.ListenAddr(metricsL, opts.Insecure)
		if err != nil {
			return err
		}
		metricsL = addr
	}

	// Memory for CPU: GOGC up to 400 while the heap fits in 512 MB (an operator's
	// GOGC wins; README "Memory and the Go collector").
	defer gctune.Start(gctune.DefaultBudget, gctune.DefaultPercent).Stop()
	if path := os.Getenv("FOREMAN_CPUPROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Traces: off unless the OTEL_* environment turns them on.
	tp, stopTracing, err := tracing.FromEnv(ctx, "foreman-engine")
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("flushing traces failed", "err", err)
		}
	}()
	if exp, on := tracing.Enabled(); on {
		log.Info("tracing on", "exporter", exp)
	}

	if reindexing {
		// Before booting: a running engine holds the index (and its
		// embedded server the data directory).
		if err := indexFree(indexDir(idxDir, opts.DataDir)); err != nil {
			return err
		}
	}
	bootCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	node, err := jetstream.Boot(bootCtx, opts, log)
	if err != nil {
		return err
	}
	defer node.Close()
	store := node.Store
	log.Info("connected to NATS JetStream", "url", node.URL(), "embedded", node.Server != nil, "data", opts.DataDir, "sync", opts.Sync, "shards", store.Shards())
	if s := node.Server; s != nil {
		log.Info("clients need credentials", "creds", s.CredsFile(), "local_copy", s.LocalCredsFile(), "tls", opts.TLSCert != "")
	}
	if reindexing {
		return reindex(ctx, store, indexDir(idxDir, opts.DataDir), log)
	}
	// The signing key is published first: clients may connect from the
	// moment the server listens, and an operator event one of them
	// appends before the key exists is unsigned, which every reader
	// rejects as forged once the key is published (opauth.go).
	if err := store.EnableSigning(ctx, opts.DataDir); err != nil {
		return err
	}
	// The buckets clients open lazily, created here: a viewer may read
	// them but not create them.
	if _, err := jetstream.OpenViews(ctx, node.Conn, opts.Replicas); err != nil {
		return err
	}
	if _, err := jetstream.OpenBatches(ctx, node.Conn, opts.Replicas); err != nil {
		return err
	}
	if err := store.EnsureSchedules(ctx); err != nil {
		return err
	}
	dir, err := node.ServeUsers(ctx, log)
	if err != nil {
		return err
	}
	defer dir.Close()
	active := 0
	for _, r := range dir.Snapshot() {
		if r.Active() {
			active++
		}
	}
	admin := "the --creds user" // with --nats the cluster's configuration decides
	if node.Server != nil {
		admin = jetstream.LocalUser()
	}
	log.Info("user directory", "bucket", jetstream.UsersBucket, "active_users", active, "admin", admin, "manage", "foreman-engine users -h")
	stopAdmin, err := users.Serve(node.Conn, dir, log)
	if err != nil {
		return err
	}
	defer stopAdmin()
	notifier, err := newNotifier(ctx, node, opts.Replicas, notifyEv, log)
	if err != nil {
		return err
	}
	stopActions, err := startActions(ctx, store, dir, auditRet, log, notifier)
	if err != nil {
		return err
	}
	defer stopActions()
	var col *metrics.Collector
	if metricsL != "" {
		col = metrics.New(nil, nil)
	}
	stopSearch, err := startSearch(ctx, store, indexDir(idxDir, opts.DataDir), log, col)
	if err != nil {
		return err
	}
	defer stopSearch()
	var reg *prometheus.Registry
	if col != nil {
		if reg, err = metrics.Registry(col); err != nil {
			return err
		}
		if err := reg.Register(notifier.Stats.Collector()); err != nil {
			return err
		}
	}
	defer runNotifier(ctx, notifier, notifyEv, log)()

	stopCompensator, err := startCompensator(ctx, store, log)
	if err != nil {
		return err
	}
	defer stopCompensator()
	var sreg prometheus.Registerer
	if reg != nil { // not a nil *Registry in an interface
		sreg = reg
	}
	if withEx || demo {
		stopWorkers, err := examples.StartWorkersOptions(ctx, store, engine.WorkerOptions{Logger: log, MetricsRegisterer: sreg, TracerProvider: tp})
		if err != nil {
			return err
		}
		defer stopWorkers()
		log.Info("example workers started", "queues", examples.Queues)
	}
	if reg != nil {
		stopMetrics, bound, err := metrics.Serve(metricsL, reg, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
		log.Info("serving metrics", "url", "http://"+bound+"/metrics")
	}
	// The services and the demo load stop together: when the services
	// fail, the demo stops too and run returns once both have.
	g, gctx := errgroup.WithContext(ctx)
	if demo {
		g.Go(func() error {
			err := examples.Demo(gctx, engine.NewClient(store, engine.ClientOptions{Identity: "demo", TracerProvider: tp}))
			if err != nil {
				log.Error("demo load stopped", "err", err)
			}
			return nil // the engine runs on without it
		})
	}
	log.Info("foreman-engine ready")
	g.Go(func() error {
		return engine.RunServicesWith(gctx, store, engine.ServicesOptions{Logger: log, MetricsRegisterer: sreg})
	})
	g.Go(func() error { return engine.RunScheduler(gctx, store, log.With("service", "scheduler")) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		log.Info("shutting down")
		return nil
	}
	return err
}

// startCPUProfile profiles the process until the returned func runs: an
// opt-in (FOREMAN_CPUPROFILE) to see where the engine's CPU goes under a
// real load, which an in-process benchmark does not reproduce.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// natsURLSource names where --nats came from: the flag, FOREMAN_NATS, or
// nowhere ("": the engine embeds a server).
func natsURLSource() string {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "nats" })
	switch {
	case set:
		return "--nats"
	case os.Getenv("FOREMAN_NATS") != "":
		return "the FOREMAN_NATS environment variable"
	}
	return ""
}
