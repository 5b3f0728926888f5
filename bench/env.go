package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// benchQueue is the task queue of the in-process worker.
const benchQueue = "bench"

// env is one durability mode's deployment in one shape. In process
// (startEnv): an embedded nats-server with a fresh data directory, the
// engine services (dispatcher, timers), one worker and one client, all in
// this process. Services, worker and client each have their own
// connection, unless sharedConn; in process, as foreman-engine's own roles
// and the workers it hosts connect, unless tcp. Deployed
// (startDeployedEnv): a foreman-engine process, and this process's worker
// and client over TCP.
type env struct {
	shape string // shapeInProcess, or shapeDeployed (deployed.go)
	mode  string
	dir   string
	srv   *jetstream.Server
	// cluster is the cluster shape's servers (cluster.go); nil otherwise.
	cluster *clusterNodes
	conns   []*nats.Conn
	stores  []*jetstream.Store
	client  *engine.Client
	worker  *engine.Worker
	obs     *observer
	cfg     *config
	notes   []string // said under the table
	// clientStore is the client's store, for reading histories back.
	clientStore engine.Store
	log         *slog.Logger
	// The deployed shape's engine process and its search API.
	engine *engineProc
	search *searchapi.Client

	cancel context.CancelFunc
	bg     sync.WaitGroup
	bgErr  chan error
}

func benchLogger(verbose bool) *slog.Logger {
	level := slog.LevelError + 4 // silent: the table is the output
	if verbose {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// startEnv starts the deployment for one sync mode.
func startEnv(parent context.Context, cfg *config, mode string) (_ *env, err error) {
	e := &env{shape: shapeInProcess, mode: mode, cfg: cfg, log: benchLogger(cfg.verbose), bgErr: make(chan error, 4)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = dataDir(cfg, mode); err != nil {
		return e, err
	}
	opts := jetstream.Options{DataDir: e.dir, Listen: "127.0.0.1:-1", Sync: mode, Name: "foreman-bench"}
	if e.srv, err = jetstream.StartEmbedded(opts, e.log); err != nil {
		return e, err
	}
	if got := e.srv.SyncAlways(); got != (mode == jetstream.SyncAlways) {
		return e, fmt.Errorf("server sync_always=%v, asked for sync %q", got, mode)
	}
	ctx, cancel := context.WithCancel(parent)
	e.cancel = cancel

	nstores := 3
	if cfg.sharedConn {
		nstores = 1
	}
	for i := range nstores {
		err := e.openStore(ctx, opts, benchRoles[i], func(ctx context.Context, o jetstream.Options) (*nats.Conn, error) {
			if cfg.tcp {
				return jetstream.Connect(ctx, e.srv.ClientURL(), o)
			}
			return e.srv.Connect(ctx, o)
		})
		if err != nil {
			return e, err
		}
	}
	svcStore, wkStore, clStore := e.stores[0], e.stores[0], e.stores[0]
	if !cfg.sharedConn {
		wkStore, clStore = e.stores[1], e.stores[2]
	}

	reg := e.metricsOn(ctx)
	e.goBackground(func() error {
		return engine.RunServicesWith(ctx, svcStore, engine.ServicesOptions{Logger: e.log, MetricsRegisterer: reg})
	})
	e.obs = newObserver()
	e.goBackground(func() error { return clStore.ConsumeHistory(ctx, "bench-observer", e.obs.handle) })

	return e, e.startApp(ctx, wkStore, clStore, reg)
}

// benchRoles name the connections of the services, the worker and the
// client.
var benchRoles = []string{"bench-services", "bench-worker", "bench-client"}

// openStore connects (with connect) and opens a store as role, keeping
// both for close.
func (e *env) openStore(ctx context.Context, opts jetstream.Options, role string, connect func(context.Context, jetstream.Options) (*nats.Conn, error)) error {
	opts.Name, opts.Logger = role, e.log
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nc, err := connect(ctx, opts)
	if err != nil {
		return err
	}
	e.conns = append(e.conns, nc)
	st, err := jetstream.Open(ctx, nc, opts)
	if err != nil {
		return err
	}
	e.stores = append(e.stores, st)
	return nil
}

// startApp starts the user's side: the worker of the measured workflows
// on wkStore and the client on clStore.
func (e *env) startApp(ctx context.Context, wkStore, clStore *jetstream.Store, reg prometheus.Registerer) error {
	e.worker = engine.NewWorker(wkStore, benchQueue, engine.WorkerOptions{Identity: "bench-worker", Logger: e.log, ShutdownTimeout: 2 * time.Second, MetricsRegisterer: reg,
		DisableLocalHandoffs: e.cfg.noHandoffs})
	if e.cfg.noHandoffs {
		e.notes = append(e.notes, fmt.Sprintf("%s, sync %s: -no-handoffs, the worker takes no first task from the client and hands it no close, as for a starter in another process", e.shape, e.mode))
	}
	err := errors.Join(e.worker.RegisterWorkflow(ThreeActs), e.worker.RegisterWorkflow(WaitSignal), e.worker.RegisterActivity(Noop),
		e.worker.RegisterWorkflow(Updatable))
	if err != nil {
		return err
	}
	if err := e.worker.Start(ctx); err != nil {
		return err
	}
	e.clientStore = clStore
	e.client = engine.NewClient(clStore, engine.ClientOptions{Identity: "bench-client"})
	return nil
}

// dataDir makes an empty directory for one deployment: under -data as
// name, else a fresh temp dir.
func dataDir(cfg *config, name string) (string, error) {
	if cfg.dataDir == "" {
		return os.MkdirTemp("", "foreman-bench-"+name+"-")
	}
	dir := filepath.Join(cfg.dataDir, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// cpuSnap is takeCPUSnap with the engine process's CPU time (deployed
// shape) counted as this process's: what all processes of the deployment
// used.
func (e *env) cpuSnap() cpuSnap {
	s := takeCPUSnap()
	if e.engine != nil {
		s.child = processCPU(e.engine.cmd.Process.Pid)
		s.self += s.child
	}
	return s
}

func (e *env) goBackground(fn func() error) {
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
			e.bgErr <- err
		}
	}()
}

// failed reports a background service that stopped with an error.
func (e *env) failed() error {
	select {
	case err := <-e.bgErr:
		return fmt.Errorf("background service failed: %w", err)
	default:
	}
	if e.engine != nil {
		select {
		case err := <-e.engine.exit:
			e.engine.exit <- err // for stop
			return fmt.Errorf("foreman-engine exited: %v", err)
		default:
		}
	}
	return nil
}

func (e *env) close() {
	if e.worker != nil {
		e.worker.Stop()
	}
	if e.cancel != nil {
		e.cancel()
	}
	e.bg.Wait()
	for _, st := range e.stores {
		_ = st.Close()
	}
	for _, nc := range e.conns {
		nc.Close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
	}
	if e.cluster != nil {
		e.cluster.shutdown()
	}
	if e.engine != nil {
		if err := e.engine.stop(); err != nil {
			e.logf("foreman-engine: %v", err)
		}
	}
	if e.dir != "" && e.cfg.dataDir == "" {
		_ = os.RemoveAll(e.dir)
	}
}

// observer watches every history batch of every run through one durable
// history consumer (the engine's Store.ConsumeHistory, as the dispatcher
// uses) and wakes whoever waits for a batch of a given workflow. It is
// far cheaper than one FollowHistory (an ordered consumer) per run.
type observer struct {
	mu    sync.Mutex
	waits map[string][]*waiter // by workflow id
}

type waiter struct {
	match func(engine.BatchHeader) bool
	ch    chan time.Time // buffered: gets the time the batch was seen
}

func newObserver() *observer { return &observer{waits: map[string][]*waiter{}} }

func isClosed(h engine.BatchHeader) bool { return h.Closed }
func isTask(h engine.BatchHeader) bool   { return h.Kind == engine.BatchTask }

// expect registers interest in the first batch of workflowID matching
// match, appended after now; register before causing it.
func (o *observer) expect(workflowID string, match func(engine.BatchHeader) bool) <-chan time.Time {
	w := &waiter{match: match, ch: make(chan time.Time, 1)}
	o.mu.Lock()
	o.waits[workflowID] = append(o.waits[workflowID], w)
	o.mu.Unlock()
	return w.ch
}

func (o *observer) forget(workflowID string) {
	o.mu.Lock()
	delete(o.waits, workflowID)
	o.mu.Unlock()
}

func (o *observer) handle(batches []engine.StoredBatch) error {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, b := range batches {
		ws := o.waits[b.Header.WorkflowID]
		if len(ws) == 0 {
			continue
		}
		keep := ws[:0]
		for _, w := range ws {
			if w.match(b.Header) {
				w.ch <- now
			} else {
				keep = append(keep, w)
			}
		}
		if len(keep) == 0 {
			delete(o.waits, b.Header.WorkflowID)
		} else {
			o.waits[b.Header.WorkflowID] = keep
		}
	}
	return nil
}

// waitFor waits for an expected batch, at most d.
func waitFor(ctx context.Context, ch <-chan time.Time, d time.Duration, what string) (time.Time, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case at := <-ch:
		return at, nil
	case <-t.C:
		return time.Time{}, fmt.Errorf("%s: not observed within %s", what, d)
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}
