package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/foremanhq/foreman/engine/internal/clock"
)

// WorkerOptions tune a Worker; zero values pick the defaults.
type WorkerOptions struct {
	// Identity names the worker in history (default host:pid).
	Identity string
	// MaxConcurrentWorkflowTasks bounds workflow tasks in flight (default 64).
	MaxConcurrentWorkflowTasks int
	// MaxConcurrentActivities bounds activity attempts in flight (default 256).
	MaxConcurrentActivities int
	// CacheSize bounds the runs kept live in memory (default 10,000; each
	// costs its coroutines' stacks, a few KB).
	CacheSize int
	// ShutdownTimeout is how long Stop lets in-flight tasks finish before
	// handing them back (default 10 s).
	ShutdownTimeout time.Duration
	// HistoryLimit terminates runs whose history reaches it (default
	// HistoryLimit; a warning is logged from HistoryWarnEvents on).
	HistoryLimit int64
	Logger       *slog.Logger
	// AnnounceInterval is how often the worker rewrites its announcement
	// in the worker directory (default DefaultAnnounceInterval; negative:
	// never announce). worker_announce.go.
	AnnounceInterval time.Duration
	// Version is what the announcement says the worker runs (default the
	// binary's module version).
	Version string
	// MetricsRegisterer, when set, gets the worker's Prometheus metrics
	// (worker_metrics.go: task duration, that is workflow-task and
	// activity latency, schedule-to-start, tasks and slots, by queue and
	// kind), for the user to serve. Workers of a process may share one.
	MetricsRegisterer prometheus.Registerer
	// PauseOnRetriesExhausted is the queue-wide RetryPolicy.PauseOnExhaustion:
	// a run of this queue whose activity ran out of attempts is paused as a
	// dead letter instead of seeing the activity fail.
	PauseOnRetriesExhausted bool
	// TracerProvider, when set, traces the worker's tasks: a span per
	// workflow task and per activity attempt, continuing the trace of the
	// run's Start across processes (tracing.go). Nil: off, at no cost.
	// engine/tracing.FromEnv builds one from the OTEL_* variables.
	TracerProvider trace.TracerProvider
	// LogRepeatWindow: a failure logged again within it (same message and
	// activity type, error type or code; another run failing the same way
	// is a repeat) is held back and summed up in one line at its end
	// (default 10 s; negative: every line written). A Logger whose handler
	// limits repeats already (NewLogHandler) is used as is.
	LogRepeatWindow time.Duration
	// DisableLocalHandoffs: the worker neither takes a run's first
	// workflow task straight from a client of its process (eager start)
	// nor hands the runs it closes to the waits for their results there
	// (local.go): everything goes through the server, e.g. to spread new
	// runs evenly over the workers of several processes.
	DisableLocalHandoffs bool
	// DisableChaining: an activity never starts before its ActivityScheduled
	// is stored. By default a quick activity this worker runs eagerly may
	// (worker_chain.go): its outcome and the next workflow task join the
	// same history batch, but a signal or operator action stored meanwhile
	// makes the task start over from history, so such an activity may run
	// on a decision the run then takes back (its outcome dropped), as a
	// Temporal local activity may.
	DisableChaining bool
}

func (o *WorkerOptions) defaults() {
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.MaxConcurrentWorkflowTasks <= 0 {
		o.MaxConcurrentWorkflowTasks = 64
	}
	if o.MaxConcurrentActivities <= 0 {
		o.MaxConcurrentActivities = 256
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10_000
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = HistoryLimit
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.AnnounceInterval == 0 {
		o.AnnounceInterval = DefaultAnnounceInterval
	}
	if o.Version == "" {
		o.Version = moduleVersion()
	}
}

// Worker runs the workflows and activities registered on it for one task
// queue: it polls the queue's workflow and activity tasks, answers queries,
// and keeps recently active runs in memory.
type Worker struct {
	store Store
	queue string
	opts  WorkerOptions
	log   *slog.Logger
	reg   *registry
	cache *runCache
	clock clock.Clock // workflow time: event times, timeouts, heartbeats
	locks runLocks

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc // activity attempts in flight, by heartbeat key
	// attempts are the same attempts' state (told of pauses)
	attempts map[string]*activityRun
	cancel   context.CancelFunc // stops polling
	work     context.Context    // in-flight tasks run under it
	abort    context.CancelFunc // cancels in-flight tasks
	loops    sync.WaitGroup     // the poll loops
	tasks    sync.WaitGroup     // tasks in flight
	stops    []func()
	ann      *announcer      // worker_announce.go
	metrics  *workerMetrics  // nil: WorkerOptions.MetricsRegisterer unset
	tracer   *tracer         // nil: WorkerOptions.TracerProvider unset
	annDone  <-chan struct{} // closed once the announcement is withdrawn
	eager    eagerState
	closed   closedRuns // runs this worker closed lately (worker_chain.go)
	pool     *goPool    // runs the tasks
	// actSlots bound the attempts running at once (MaxConcurrentActivities),
	// delivered and eager alike.
	actSlots chan struct{}

	stopping atomic.Bool // Stop began: no new eager attempts or starts
	// deployment names what the store reaches, for hand-offs within the
	// process ("": none; local.go); eagerStarts are those running.
	deployment  string
	eagerStarts atomic.Int32
	stopOnce    sync.Once
}

// NewWorker returns a worker for queue. Register functions, then Start.
func NewWorker(store Store, queue string, opts WorkerOptions) *Worker {
	opts.defaults()
	return &Worker{store: store, queue: queue, opts: opts, log: workerLogger(opts.Logger, opts.LogRepeatWindow, queue), clock: clockOf(store),
		ann: newAnnouncer(queue), reg: newRegistry(), cache: newRunCache(opts.CacheSize), running: map[string]context.CancelCauseFunc{}, attempts: map[string]*activityRun{},
		eager: eagerState{token: newEagerToken()}, pool: newGoPool(), actSlots: make(chan struct{}, opts.MaxConcurrentActivities),
		tracer: newTracer(opts.TracerProvider)}
}

// RegisterWorkflow registers fn under its function name.
func (w *Worker) RegisterWorkflow(fn any) error { return w.reg.registerWorkflow("", fn) }

// RegisterWorkflowWithName registers fn under name.
func (w *Worker) RegisterWorkflowWithName(name string, fn any) error {
	return w.reg.registerWorkflow(name, fn)
}

// RegisterActivity registers fn under its function name.
func (w *Worker) RegisterActivity(fn any) error { return w.reg.registerActivity("", fn) }

// RegisterActivityWithName registers fn under name.
func (w *Worker) RegisterActivityWithName(name string, fn any) error {
	return w.reg.registerActivity(name, fn)
}

// Start begins polling. It returns at once; Stop ends the worker.
func (w *Worker) Start(ctx context.Context) error {
	if r := w.opts.MetricsRegisterer; r != nil {
		m, err := newWorkerMetrics(r)
		if err != nil {
			return err
		}
		w.metrics = m
		if err := ObserveStore(w.store, r); err != nil {
			return err
		}
	}
	w.work, w.abort = context.WithCancel(context.WithoutCancel(ctx))
	ctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	if len(w.reg.workflows) > 0 {
		stop, err := serveQueries(w.store, w.queue, w.serveQuery)
		if err != nil {
			cancel()
			return fmt.Errorf("serving queries on %s: %w", w.queue, err)
		}
		w.stops = append(w.stops, stop)
		w.joinLocal()
		w.poll(ctx, WorkflowTaskKind, w.opts.MaxConcurrentWorkflowTasks, w.measured(WorkflowTaskKind, w.opts.MaxConcurrentWorkflowTasks, w.counted(WorkflowTaskKind, w.handleWorkflowTask)))
	}
	if len(w.reg.activities) > 0 {
		stop, err := w.store.SubscribeCancels(w.onCancelNotice)
		if err != nil {
			cancel()
			return fmt.Errorf("subscribing to activity cancellations: %w", err)
		}
		w.stops = append(w.stops, stop)
		w.startEager()
		w.poll(ctx, ActivityTaskKind, w.opts.MaxConcurrentActivities, w.measured(ActivityTaskKind, w.opts.MaxConcurrentActivities, w.counted(ActivityTaskKind, w.handleActivityTask)))
	}
	w.annDone = w.announce(ctx)
	return nil
}

// poll consumes one task queue, running each task on its own goroutine;
// the store bounds how many are in flight.
func (w *Worker) poll(ctx context.Context, kind TaskKind, max int, handle func(context.Context, Delivery)) {
	w.loops.Add(1)
	go func() {
		defer w.loops.Done()
		for ctx.Err() == nil {
			err := w.store.ConsumeTasks(ctx, kind, w.queue, max, func(d Delivery) {
				w.tasks.Add(1)
				w.pool.Go(func() {
					defer w.tasks.Done()
					handle(w.work, d)
				})
			})
			if err != nil && ctx.Err() == nil {
				w.log.Warn("polling tasks failed; retrying", "kind", kind, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
}

// Stop stops polling, lets in-flight tasks finish for up to
// ShutdownTimeout, then cancels the rest (their tasks are handed back and
// redelivered to another worker). Calling it again is a no-op.
func (w *Worker) Stop() {
	if w.cancel == nil {
		return
	}
	w.stopOnce.Do(w.stop)
}

func (w *Worker) stop() {
	w.mu.Lock()
	w.stopping.Store(true) // under mu: see takeStart
	w.mu.Unlock()
	for _, stop := range w.stops {
		stop()
	}
	// Stop taking new tasks first; tasks in flight keep their own context.
	w.cancel()
	w.loops.Wait()
	done := make(chan struct{})
	go func() { w.tasks.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.opts.ShutdownTimeout):
		w.mu.Lock()
		for _, c := range w.running {
			c(errWorkerStopping)
		}
		w.mu.Unlock()
		w.abort()
		<-done
	}
	w.abort()
	w.pool.close()
	if w.eager.stop != nil {
		w.eager.stop()
	}
	w.cache.closeAll()
	if w.annDone != nil {
		<-w.annDone // withdrawn: gone from :queues as soon as Stop returns
	}
}

var errWorkerStopping = errors.New("worker shutting down")

// CachedRuns reports how many runs are live in memory.
func (w *Worker) CachedRuns() int { return w.cache.len() }
