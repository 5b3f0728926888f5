package enginetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/internal/clock"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// DefaultTaskQueue is the queue of the environment's worker.
const DefaultTaskQueue = "enginetest"

// Env runs workflows on the real engine — worker, dispatcher, timer service —
// over a real JetStream store in a temporary directory, with a test clock in
// place of the wall clock. Time stands still until the test lets it move:
// Result and ExecuteWorkflow move it whenever everything has settled (no
// workflow task, activity attempt or stored message in flight) straight to
// the next timer, retry or timeout; Advance moves it by a given duration. A
// 72-hour approval timeout or a 10-minute sleep takes milliseconds.
//
// Activities run for real, in real time, and time stands still while one
// runs: an activity that returns in a few milliseconds does so before any
// timer fires, on every run of the test. An activity that should wait for
// its own timeout calls WaitForTimeout, one that takes time calls Sleep;
// time moves on while they wait.
type Env struct {
	t     testing.TB
	ctx   context.Context
	opts  options
	clock *clock.Manual
	store *trackedStore

	client *engine.Client

	mu         sync.Mutex
	workflows  map[string]any
	activities map[string]any
	worker     *engine.Worker
	started    int
}

// New starts an environment for the test; t.Cleanup stops it.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	o := options{start: DefaultStart, timeout: 30 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = quietLogger()
	}
	if o.worker.Logger == nil {
		o.worker.Logger = o.log
	}
	if o.worker.ShutdownTimeout == 0 {
		// what still runs when a test ends is an activity left hanging
		o.worker.ShutdownTimeout = 200 * time.Millisecond
	}
	if o.worker.Identity == "" {
		o.worker.Identity = "enginetest"
	}
	js, _ := jstest.Start(t)
	clk := clock.NewManual(o.start)
	e := &Env{t: t, opts: o, clock: clk, store: newTrackedStore(js, clk),
		workflows: map[string]any{}, activities: map[string]any{}}
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = engine.RunServices(ctx, e.store, o.log)
	}()
	t.Cleanup(func() { cancel(); <-done })
	e.client = engine.NewClient(e.store, engine.ClientOptions{Identity: "tester"})
	e.probeHeartbeats()
	return e
}

// probeHeartbeats waits until the timer service watches heartbeats: a
// heartbeat deleted before its watch began would never be seen, and the
// environment would wait for it forever.
func (e *Env) probeHeartbeats() {
	e.t.Helper()
	const key = "enginetest.probe.0"
	if err := e.store.PutHeartbeat(e.ctx, key, []byte(`{}`)); err != nil {
		e.t.Fatalf("enginetest: %v", err)
	}
	e.settle("the heartbeat watch to start")
	if err := e.store.DeleteHeartbeat(e.ctx, key); err != nil {
		e.t.Fatalf("enginetest: %v", err)
	}
	e.settle("the heartbeat watch to start")
}

// Store is the environment's store: JetStream, on the test clock. Workers
// and clients built on it share the clock (engine.NewWorker(env.Store(), …)
// for other task queues; stop them before the test ends).
func (e *Env) Store() engine.Store { return e.store }

// Client is a client of the environment (identity "tester").
func (e *Env) Client() *engine.Client { return e.client }

// Context is cancelled when the test ends.
func (e *Env) Context() context.Context { return e.ctx }

// Now is the test clock's time.
func (e *Env) Now() time.Time { return e.clock.Now() }

// RegisterWorkflow registers a workflow on the environment's worker (of
// DefaultTaskQueue). Register before the first Start.
func (e *Env) RegisterWorkflow(fn any) { e.RegisterWorkflowWithName(engine.FuncName(fn), fn) }

// RegisterWorkflowWithName registers fn under name.
func (e *Env) RegisterWorkflowWithName(name string, fn any) { e.register(e.workflows, name, fn) }

// RegisterActivity registers an activity on the environment's worker.
func (e *Env) RegisterActivity(fn any) { e.RegisterActivityWithName(engine.FuncName(fn), fn) }

// RegisterActivityWithName registers fn under name.
func (e *Env) RegisterActivityWithName(name string, fn any) { e.register(e.activities, name, fn) }

func (e *Env) register(into map[string]any, name string, fn any) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.worker != nil {
		e.t.Fatalf("enginetest: %s registered after the first Start: register everything before", name)
	}
	into[name] = fn
}

// OnActivity replaces an activity (the function or its registered name)
// with fn, which must take and return the same types: the workflow calls
// fn where it would have called the real one.
func (e *Env) OnActivity(activity any, fn any) {
	e.RegisterActivityWithName(engine.FuncName(activity), fn)
}

// startWorker starts the environment's worker with what is registered, once.
func (e *Env) startWorker() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.worker != nil || len(e.workflows)+len(e.activities) == 0 {
		return
	}
	w := engine.NewWorker(e.store, DefaultTaskQueue, e.opts.worker)
	for name, fn := range e.workflows {
		if err := w.RegisterWorkflowWithName(name, fn); err != nil {
			e.t.Fatalf("enginetest: registering workflow %s: %v", name, err)
		}
	}
	for name, fn := range e.activities {
		if err := w.RegisterActivityWithName(name, fn); err != nil {
			e.t.Fatalf("enginetest: registering activity %s: %v", name, err)
		}
	}
	if err := w.Start(e.ctx); err != nil {
		e.t.Fatalf("enginetest: starting the worker: %v", err)
	}
	e.t.Cleanup(w.Stop)
	e.worker = w
}

// Start starts workflow (a function or its registered name) with input on
// DefaultTaskQueue, under a generated workflow id. Time does not move.
func (e *Env) Start(workflow any, input any) engine.Run {
	e.t.Helper()
	e.mu.Lock()
	e.started++
	id := fmt.Sprintf("%s-%d", engine.FuncName(workflow), e.started)
	e.mu.Unlock()
	return e.StartWithOptions(engine.StartOptions{ID: id, TaskQueue: DefaultTaskQueue}, workflow, input)
}

// StartWithOptions starts a run with the given id and queue.
func (e *Env) StartWithOptions(opts engine.StartOptions, workflow any, input any) engine.Run {
	e.t.Helper()
	e.startWorker()
	run, err := e.client.Start(e.ctx, opts, workflow, input)
	if err != nil {
		e.t.Fatalf("enginetest: start %s: %v", opts.ID, err)
	}
	return run
}

// ExecuteWorkflow starts workflow and waits for its result (see Result).
func (e *Env) ExecuteWorkflow(workflow any, input any, valuePtr any) error {
	e.t.Helper()
	return e.Result(e.Start(workflow, input), valuePtr)
}

// Result waits for the run (or the run it continued as) to close and
// decodes its result into valuePtr; a run that did not complete returns its
// failure. While it waits, the clock moves to the next timer whenever
// everything has settled.
func (e *Env) Result(run engine.Run, valuePtr any) error {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.client.GetResult(ctx, run.WorkflowID, "", valuePtr) }()
	deadline := time.Now().Add(e.opts.timeout)
	for {
		select {
		case err := <-done:
			return err
		default:
		}
		if e.idle() && !e.closed(run) {
			if next, ok := e.clock.Next(); ok {
				e.clock.Set(next)
				continue
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("enginetest: %s did not close within %s (test clock at %s; in flight: %s)\nhistory:\n%s",
				run.WorkflowID, e.opts.timeout, e.Now().Format(time.RFC3339), orNothing(e.store.busy()), e.dump(run))
		}
		e.waitChange()
	}
}

// Advance moves the clock forward by d, firing on the way, in order, each
// timer, retry and timeout that falls due, and letting the engine settle
// before and after each.
func (e *Env) Advance(d time.Duration) {
	e.t.Helper()
	target := e.clock.Now().Add(d)
	for {
		e.settle("the engine to settle")
		next, ok := e.clock.Next()
		if !ok || next.After(target) {
			break
		}
		e.clock.Set(next)
	}
	e.clock.Set(target)
	e.settle("the engine to settle")
}

// WaitIdle waits until nothing is in flight: no workflow task, activity
// attempt, history batch, task or timer between the engine's parts. Time
// does not move.
func (e *Env) WaitIdle() {
	e.t.Helper()
	e.settle("the engine to go idle")
}

// AfterFunc calls fn when the test clock reaches Now()+d (fn may signal,
// approve or cancel a run at a chosen workflow time). The clock waits for fn
// to return, so fn must not wait for the engine (Result, WaitIdle) itself.
func (e *Env) AfterFunc(d time.Duration, fn func()) {
	e.clock.AfterFunc(d, fn)
}

// idle tells whether nothing is in flight, checked twice so that work
// handed from one part to the next between the two looks is seen.
func (e *Env) idle() bool {
	if e.store.busy() != "" {
		return false
	}
	time.Sleep(200 * time.Microsecond)
	return e.store.busy() == ""
}

func (e *Env) settle(what string) {
	e.t.Helper()
	deadline := time.Now().Add(e.opts.timeout)
	for !e.idle() {
		if time.Now().After(deadline) {
			e.t.Fatalf("enginetest: timed out after %s waiting for %s; in flight: %s", e.opts.timeout, what, e.store.busy())
		}
		e.waitChange()
	}
}

// waitChange waits a little, or less if something changes.
func (e *Env) waitChange() {
	t := time.NewTimer(5 * time.Millisecond)
	defer t.Stop()
	select {
	case <-e.store.changes():
	case <-e.clock.Changed():
	case <-t.C:
	}
}

// closed tells whether the run's current history is closed.
func (e *Env) closed(run engine.Run) bool {
	x, err := e.client.Describe(e.ctx, run.WorkflowID, "")
	return err == nil && x.Status != engine.StatusRunning
}
