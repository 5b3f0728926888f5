package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// A cluster of worker processes on one engine: each worker has its own
// connection and store, as a separate process would.
type cluster struct {
	t      *testing.T
	client *engine.Client
	store  *jetstream.Store // the engine's
	ctx    context.Context
	stores []*countingStore  // opened for the processes to come
	kills  []func()          // drop each store's connection
	want   map[string]string // run id -> expected result
	srv    *jetstream.Server
	opts   jetstream.Options
	js     natsjs.JetStream // a view on the server (streams())
}

// newCluster starts the engine and opens the stores of procs worker
// processes. They are all opened first: opening a store updates the
// streams, and nats-server 2.15.2 races (race detector) between a stream
// update and a consumer being created at the same moment.
func newCluster(t *testing.T, opts jetstream.Options, procs int) *cluster {
	t.Helper()
	c := newClusterOnly(t, opts, procs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = engine.RunServices(ctx, c.store, quietLogger()) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// newClusterOnly is newCluster without the engine's services (the test
// runs them).
func newClusterOnly(t *testing.T, opts jetstream.Options, procs int) *cluster {
	t.Helper()
	store, srv := jstest.StartIn(t, t.TempDir(), opts)
	c := &cluster{t: t, want: map[string]string{}, store: store, client: engine.NewClient(store, engine.ClientOptions{Identity: "tester"}),
		srv: srv, opts: opts}
	for range procs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nc, err := jetstream.Connect(ctx, srv.ClientURL(), opts)
		if err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.Open(ctx, nc, opts)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = js.Close(); nc.Close() }) // after the worker's Stop
		c.stores = append(c.stores, &countingStore{Store: js})
		c.kills = append(c.kills, nc.Close)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.ctx = ctx
	return c
}

// process is one worker process: its connection, store and worker.
type process struct {
	w     *engine.Worker
	store *countingStore
	kill  func() // drops the connection: nothing is acked or handed back
}

// countingStore counts the history reads of a worker (a cached run needs
// none).
type countingStore struct {
	*jetstream.Store
	deaf bool // serves nothing on the worker's own subject
	// loseEager: the next append claiming an eager attempt lands, but its
	// answer is lost (an error, after the attempt's guard was delivered).
	loseEager     atomic.Bool
	guards        atomic.Int64 // guard tasks delivered to this worker
	reads         atomic.Int64
	workflowTasks atomic.Int64 // workflow tasks the worker published (activity results)
}

func (s *countingStore) PublishTask(ctx context.Context, kind engine.TaskKind, queue string, data []byte, msgID string) error {
	if kind == engine.WorkflowTaskKind {
		s.workflowTasks.Add(1)
	}
	return s.Store.PublishTask(ctx, kind, queue, data, msgID)
}

func (s *countingStore) AppendHistory(ctx context.Context, h engine.BatchHeader, data []byte, expected uint64, msgID string) (uint64, error) {
	seq, err := s.Store.AppendHistory(ctx, h, data, expected, msgID)
	if err != nil || h.Eager == "" || !s.loseEager.CompareAndSwap(true, false) {
		return seq, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.guards.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return 0, errors.New("the answer to the append was lost")
}

func (s *countingStore) ConsumeTasks(ctx context.Context, kind engine.TaskKind, queue string, max int, fn func(engine.Delivery)) error {
	return s.Store.ConsumeTasks(ctx, kind, queue, max, func(d engine.Delivery) {
		if kind == engine.ActivityTaskKind && bytes.Contains(d.Data(), []byte(`"eager":`)) {
			s.guards.Add(1)
		}
		fn(d)
	})
}

// ServeWorker is the store's, unless deaf: then nothing is subscribed, as
// with credentials that lack the subject.
func (s *countingStore) ServeWorker(queue, token string, handler func([]byte) []byte) (func(), error) {
	if s.deaf {
		return func() {}, nil
	}
	return s.Store.ServeWorker(queue, token, handler)
}

func (s *countingStore) ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error) {
	s.reads.Add(1)
	return s.Store.ReadHistory(ctx, runID, afterSeq)
}

// process starts a worker on the next store newCluster opened.
func (c *cluster) process(name, queue string, register func(*engine.Worker)) *process {
	c.t.Helper()
	return c.processWith(name, queue, engine.WorkerOptions{}, register)
}

// processWith is process with worker options (its identity, logger and
// shutdown timeout set here).
func (c *cluster) processWith(name, queue string, opts engine.WorkerOptions, register func(*engine.Worker)) *process {
	c.t.Helper()
	store, kill := c.stores[0], c.kills[0]
	c.stores, c.kills = c.stores[1:], c.kills[1:]
	opts.Identity, opts.Logger, opts.ShutdownTimeout = name, quietLogger(), 2*time.Second
	w := engine.NewWorker(store, queue, opts)
	register(w)
	if err := w.Start(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(w.Stop)
	return &process{w: w, store: store, kill: kill}
}

// startRuns starts n Steps runs on queue "wf" with ids prefix-i.
func (c *cluster) startRuns(prefix string, n int) []string {
	c.t.Helper()
	return c.startRunsOf("Steps", prefix, n)
}

// startRunsOf starts n runs of workflowType (Steps or StepsHere) on queue
// "wf" with ids prefix-i.
func (c *cluster) startRunsOf(workflowType, prefix string, n int) []string {
	c.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: ids[i], TaskQueue: "wf"}, workflowType, order{ID: ids[i], Amount: i}); err != nil {
			c.t.Fatalf("start %s: %v", ids[i], err)
		}
		c.want[ids[i]] = fmt.Sprintf("res-%s,pay-%s-%d,ship-%s", ids[i], ids[i], i, ids[i])
	}
	return ids
}

// waitAll waits until every run completed with the right result, and
// checks each history is whole and ran each activity once.
func (c *cluster) waitAll(ids []string, within time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, within)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res string
			if err := c.client.GetResult(ctx, id, "", &res); err != nil {
				errs[i] = err
				return
			}
			if want := c.want[id]; res != want {
				errs[i] = fmt.Errorf("result %q, want %q", res, want)
			}
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if errs[i] != nil {
			c.t.Fatalf("%s: %v; history:\n%s", id, errs[i], c.dump(id))
		}
		events, err := c.client.History(c.ctx, id, "")
		if err != nil {
			c.t.Fatal(err)
		}
		checkHistory(c.t, events)
		if n := count(events, engine.EventActivityCompleted); n != 3 {
			c.t.Fatalf("%s: %d activities completed, want 3", id, n)
		}
	}
}

func (c *cluster) dump(id string) string {
	events, err := c.client.History(context.Background(), id, "")
	if err != nil {
		return err.Error()
	}
	s := ""
	for _, e := range events {
		s += fmt.Sprintf("  %3d %s\n", e.ID, e.Type)
	}
	return s
}

// Steps runs three activities one after the other on queue "acts".
func Steps(ctx engine.Context, o order) (string, error) { return steps(ctx, o, "acts") }

// StepsHere runs them on the workflow's own queue.
func StepsHere(ctx engine.Context, o order) (string, error) { return steps(ctx, o, "") }

func steps(ctx engine.Context, o order, queue string) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{TaskQueue: queue, StartToCloseTimeout: 10 * time.Second})
	var parts [3]string
	for i, step := range []any{Reserve, Charge, Ship} {
		if err := engine.ExecuteActivity(ctx, step, o).Get(ctx, &parts[i]); err != nil {
			return "", err
		}
	}
	return parts[0] + "," + parts[1] + "," + parts[2], nil
}

func registerSteps(w *engine.Worker) { must(w.RegisterWorkflowWithName("Steps", Steps)) }

func registerStepsHere(w *engine.Worker) {
	must(w.RegisterWorkflowWithName("StepsHere", StepsHere))
	registerStepActivities(w)
}

func registerStepActivities(w *engine.Worker) {
	must(w.RegisterActivity(Reserve))
	must(w.RegisterActivity(Charge))
	must(w.RegisterActivity(Ship))
}

// One workflow worker keeps its runs in its cache from start to close: a
// new run starts from the batch its wake task carries and each activity
// result is applied to the cached state, so no history is ever read.
func TestOneWorkflowWorkerReadsNoHistory(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 2)
	a := c.process("wf-a", "wf", registerSteps)
	c.process("acts", "acts", registerStepActivities)
	ids := c.startRuns("one", 20)
	c.waitAll(ids, 30*time.Second)
	if n := a.store.reads.Load(); n != 0 {
		t.Fatalf("the worker read history %d times", n)
	}
	if n := a.w.CachedRuns(); n != 0 {
		t.Fatalf("%d closed runs still cached", n)
	}
}

// A worker that runs both the workflows and the activities of a queue
// hands each activity's outcome to the run in process: no result task is
// published, no history read, and every run completes with each activity
// run once.
func TestActivityOutcomeHandedOverInProcess(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 1)
	a := c.process("both", "wf", registerStepsHere)
	ids := c.startRunsOf("StepsHere", "here", 20)
	c.waitAll(ids, 30*time.Second)
	if n := a.store.workflowTasks.Load(); n != 0 {
		t.Fatalf("the worker published %d activity results as tasks, want 0 (all handed over in process)", n)
	}
	if n := a.store.reads.Load(); n != 0 {
		t.Fatalf("the worker read history %d times", n)
	}
}

// Two such workers share the queue: an activity often runs on the worker
// that does not hold the run, or holds a stale state of it. Every run
// still completes with each activity run once, whichever way each outcome
// went (in process, or published).
func TestTwoWorkersRunWorkflowsAndActivities(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 2)
	a := c.process("both-a", "wf", registerStepsHere)
	b := c.process("both-b", "wf", registerStepsHere)
	ids := c.startRunsOf("StepsHere", "pair", 40)
	c.waitAll(ids, 30*time.Second)
	t.Logf("outcomes published as tasks: %d and %d of %d", a.store.workflowTasks.Load(), b.store.workflowTasks.Load(), 3*len(ids))
}

// Two workflow workers share queue "wf": whichever gets a run's next task
// must advance it, even when it holds a stale state of that run in its
// cache because the other worker advanced the run since (an activity
// result judged on that state was dropped as unknown, and the run stalled).
func TestTwoWorkflowWorkersShareQueue(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 3)
	a := c.process("wf-a", "wf", registerSteps)
	b := c.process("wf-b", "wf", registerSteps)
	c.process("acts", "acts", registerStepActivities)
	ids := c.startRuns("two", 20)
	c.waitAll(ids, 30*time.Second)
	t.Logf("history reads: %d and %d for %d runs", a.store.reads.Load(), b.store.reads.Load(), len(ids))
}

// One of two workflow workers stops gracefully while runs are in flight;
// the other finishes them all, promptly: the stopping worker hands back
// every task it had not started, so none waits for its AckWait (5 s here)
// before the other worker gets it.
func TestWorkflowWorkerStopsOtherFinishes(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 3)
	a := c.process("wf-a", "wf", registerSteps)
	c.process("wf-b", "wf", registerSteps)
	c.process("acts", "acts", registerStepActivities)
	ids := c.startRuns("stop", 20)
	waitFor(t, "some runs under way", func() bool {
		ev, err := c.client.History(c.ctx, ids[len(ids)-1], "")
		return err == nil && count(ev, engine.EventActivityCompleted) > 0
	})
	stopped := time.Now()
	a.w.Stop()
	more := c.startRuns("after", 5)
	c.waitAll(append(ids, more...), 30*time.Second)
	took := time.Since(stopped)
	t.Logf("all runs closed %s after the stop", took.Round(time.Millisecond))
	if took > 4*time.Second {
		t.Fatalf("runs took %s to close after a graceful stop: a task waited for its AckWait", took)
	}
}

// One of two workflow workers dies in the middle of a workflow task (hung,
// then its connection drops: nothing is acked or handed back); the other
// picks that task up once its AckWait passes, and finishes every run.
func TestWorkflowWorkerKilledOtherFinishes(t *testing.T) {
	c := newCluster(t, jetstream.Options{AckWait: time.Second}, 3)
	var armed atomic.Bool
	held, gate := make(chan struct{}), make(chan struct{})
	a := c.process("wf-a", "wf", func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Steps", func(ctx engine.Context, o order) (string, error) {
			if armed.CompareAndSwap(true, false) {
				close(held)
				<-gate // hangs holding its workflow task, until the test ends
			}
			return Steps(ctx, o)
		}))
	})
	t.Cleanup(func() { close(gate) }) // runs before a's Stop: lets its goroutine end
	c.process("wf-b", "wf", registerSteps)
	c.process("acts", "acts", registerStepActivities)
	ids := c.startRuns("kill", 20)
	waitFor(t, "some runs under way", func() bool {
		ev, err := c.client.History(c.ctx, ids[len(ids)-1], "")
		return err == nil && count(ev, engine.EventActivityCompleted) > 0
	})
	armed.Store(true)
	more := c.startRuns("after", 5) // gives worker a some tasks to hang on
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("worker a never ran workflow code")
	}
	a.kill()
	killed := time.Now()
	c.waitAll(append(ids, more...), 30*time.Second)
	t.Logf("all runs closed %s after the kill", time.Since(killed).Round(time.Millisecond))
}

// eagerClaims counts the history batches of a run whose header claims
// activity attempts for the worker that appended them (run at once there).
func (c *cluster) eagerClaims(id string) int {
	c.t.Helper()
	run, _, err := c.store.GetRun(c.ctx, id)
	if err != nil {
		c.t.Fatal(err)
	}
	batches, err := c.store.ReadHistory(c.ctx, run.RunID, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	n := 0
	for _, b := range batches {
		if b.Header.Eager != "" {
			n++
		}
	}
	return n
}

// The worker whose workflow task schedules an activity on its own queue
// runs it at once (eagerly); the activity task the dispatcher still
// derives only guards that attempt. Two activity-only workers share the
// queue, so most guards land on a worker that does not run the attempt:
// it must not run it too, whether the owner is still running it (it asks
// the owner, and hands the guard back) or has finished. Every activity
// runs exactly once, on the owner, and no attempt is recorded lost. (The
// dispatcher stores each guard at once here: held, the guards of these
// short attempts would never be stored, eager_guard_test.go.)
func TestEagerActivityRunsOnceWhereverItsGuardLands(t *testing.T) {
	c := newClusterOnly(t, jetstream.Options{}, 3)
	c.engine(engine.ServicesOptions{EagerGuardDelay: -1})
	ran := &stepLog{ran: map[string][]string{}}
	procs := []*process{c.process("owner", "wf", ran.register("owner", true)),
		c.process("other-1", "wf", ran.register("other-1", false)),
		c.process("other-2", "wf", ran.register("other-2", false))}
	ids := c.startRunsOf("StepsHere", "eager", 12)
	c.waitAll(ids, 60*time.Second)
	ran.check(t, c, ids, "owner", 3)
	if n := procs[1].store.guards.Load() + procs[2].store.guards.Load(); n == 0 {
		t.Fatal("no guard landed on another worker: the test tested nothing")
	}
}

// A worker whose own subject others cannot reach (credentials without
// it) would be taken for dead while it runs an attempt, and the attempt
// run again elsewhere: it runs no attempt eagerly.
func TestUnreachableWorkerRunsNothingEagerly(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 2)
	c.stores[0].deaf = true
	ran := &stepLog{ran: map[string][]string{}}
	c.process("owner", "wf", ran.register("owner", true))
	c.process("other", "wf", ran.register("other", false))
	ids := c.startRunsOf("StepsHere", "deaf", 6)
	c.waitAll(ids, 60*time.Second)
	ran.check(t, c, ids, "", 0)
}

// stepLog records which worker ran each step of each StepsHere run.
type stepLog struct {
	mu  sync.Mutex
	ran map[string][]string // "workflow/activity" -> workers that ran it
}

// register registers StepsHere's activities (and the workflow if
// workflows), each taking 150 ms so that the guard arrives while it runs.
func (l *stepLog) register(name string, workflows bool) func(*engine.Worker) {
	return func(w *engine.Worker) {
		if workflows {
			must(w.RegisterWorkflowWithName("StepsHere", StepsHere))
		}
		for _, step := range []func(context.Context, order) (string, error){Reserve, Charge, Ship} {
			must(w.RegisterActivityWithName(engine.FuncName(step), func(ctx context.Context, o order) (string, error) {
				info := engine.GetActivityInfo(ctx)
				l.mu.Lock()
				key := info.WorkflowID + "/" + info.ActivityType
				l.ran[key] = append(l.ran[key], name)
				l.mu.Unlock()
				time.Sleep(150 * time.Millisecond)
				return step(ctx, o)
			}))
		}
	}
}

// check requires every step of every run to have run exactly once (on
// worker on, if set), no attempt recorded failed, and claims batches of
// each run to claim an eager attempt.
func (l *stepLog) check(t *testing.T, c *cluster, ids []string, on string, claims int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		for _, step := range []any{Reserve, Charge, Ship} {
			key := id + "/" + engine.FuncName(step)
			if got := l.ran[key]; len(got) != 1 || on != "" && got[0] != on {
				t.Errorf("%s ran on %v, want once (on %q)", key, got, on)
			}
		}
		if n := c.eagerClaims(id); n != claims {
			t.Errorf("%s: %d batches claim an eager attempt, want %d", id, n, claims)
		}
		events, err := c.client.History(c.ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if n := count(events, engine.EventActivityAttemptFailed); n != 0 {
			t.Errorf("%s: %d attempts recorded failed, want none\n%s", id, n, c.dump(id))
		}
	}
}

// The append that claims an eager attempt lands, but its answer is lost
// (the server died before replying): the worker does not run the attempt,
// and meanwhile the dispatcher has delivered the attempt's guard to it.
// The guard must not be held forever: the attempt is recorded lost and
// its retry runs, once.
func TestEagerClaimWithLostAppendAnswerIsRetried(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 1)
	c.stores[0].loseEager.Store(true)
	var execs atomic.Int32
	// no eager start: the claiming append is the worker's (its store's)
	c.processWith("a", "wf", engine.WorkerOptions{DisableLocalHandoffs: true}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Once", onceStep))
		must(w.RegisterActivityWithName("step", func(ctx context.Context) (string, error) {
			return fmt.Sprintf("attempt %d", execs.Add(1)), nil
		}))
	})
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "lost-answer", TaskQueue: "wf"}, "Once", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	var res string
	if err := c.client.GetResult(ctx, "lost-answer", "", &res); err != nil || res != "attempt 1" {
		t.Fatalf("result %q, %v; want %q (the retry, the first execution)\n%s", res, err, "attempt 1", c.dump("lost-answer"))
	}
	if n := execs.Load(); n != 1 {
		t.Fatalf("the activity ran %d times, want once", n)
	}
	events, err := c.client.History(c.ctx, "lost-answer", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(events, engine.EventActivityAttemptFailed); n != 1 {
		t.Fatalf("%d attempts recorded failed, want 1 (the claimed one, lost)\n%s", n, c.dump("lost-answer"))
	}
}

// onceStep runs activity "step" once (retried quickly) and returns its result.
func onceStep(ctx engine.Context) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond}})
	var s string
	err := engine.ExecuteActivity(ctx, "step", nil).Get(ctx, &s)
	return s, err
}
