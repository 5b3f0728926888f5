package engine_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// Eager attempts whose outcome the dispatcher sees soon need no guard task
// (engine/dispatcher_hold.go): the dispatcher holds the claiming batch
// unacknowledged instead, and acknowledges it when a later batch settles
// the attempts.

// A run of three sequential activities, each run eagerly where its
// workflow task scheduled it, started by a client in the worker's process
// (whose worker takes the first workflow task: an eager start), stores no
// task at all. No guard is stored (before the hold, each attempt stored
// one: 4 tasks per run, with the start's wake), none is delivered even
// after the hold's delay passed, and every held batch was acknowledged.
// In a sharded store too.
func TestEagerActivitiesStoreNoGuardTask(t *testing.T) {
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			c := newCluster(t, jetstream.Options{Shards: shards}, 1)
			ran := &stepLog{ran: map[string][]string{}}
			a := c.process("owner", "wf", ran.register("owner", true))
			before := c.taskWrites()
			ids := c.startRunsOf("StepsHere", "noguard", 5)
			c.waitAll(ids, 30*time.Second)
			time.Sleep(2500 * time.Millisecond) // past the hold's delay: a guard would be stored by now
			ran.check(t, c, ids, "owner", 3)
			if n := c.taskWrites() - before; n != 0 {
				t.Errorf("%d task messages stored for %d runs, want none (no wake, no guard)", n, len(ids))
			}
			if n := a.store.guards.Load(); n != 0 {
				t.Errorf("%d guard tasks delivered, want none", n)
			}
			c.waitDispatched()
		})
	}
}

// An eager attempt with schedule-to-start and schedule-to-close timeouts:
// its batch derives their timers (decoded), and is still held rather than
// guarded, its timers being all it implies besides the attempt.
func TestEagerAttemptWithTimeoutsIsHeld(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 1)
	var execs atomic.Int32
	a := c.process("owner", "wf", func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Timed", func(ctx engine.Context) (string, error) {
			ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{ScheduleToStartTimeout: time.Minute, ScheduleToCloseTimeout: time.Minute})
			var s string
			err := engine.ExecuteActivity(ctx, "step", nil).Get(ctx, &s)
			return s, err
		}))
		must(w.RegisterActivityWithName("step", func(context.Context) (string, error) {
			execs.Add(1)
			return "done", nil
		}))
	})
	before := c.taskWrites()
	for i := range 3 {
		if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: fmt.Sprintf("timed-%d", i), TaskQueue: "wf"}, "Timed", nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
		var res string
		err := c.client.GetResult(ctx, fmt.Sprintf("timed-%d", i), "", &res)
		cancel()
		if err != nil || res != "done" {
			t.Fatalf("timed-%d: result %q, %v", i, res, err)
		}
		if n := c.eagerClaims(fmt.Sprintf("timed-%d", i)); n != 1 {
			t.Fatalf("timed-%d: %d batches claim an eager attempt, want 1", i, n)
		}
	}
	time.Sleep(2500 * time.Millisecond) // past the hold's delay
	if n := c.taskWrites() - before; n != 0 {
		t.Errorf("%d task messages stored for 3 runs, want none (eager starts, no guard)", n)
	}
	if n, g := execs.Load(), a.store.guards.Load(); n != 3 || g != 0 {
		t.Errorf("%d executions, %d guards delivered; want 3, none", n, g)
	}
	c.waitDispatched()
}

// The same runs with the hold off (EagerGuardDelay < 0: every guard
// stored at once, as before) store a guard per attempt: the count above
// is the hold's doing.
func TestEagerGuardsStoredAtOnceWithoutHold(t *testing.T) {
	c := newClusterOnly(t, jetstream.Options{}, 1)
	c.engine(engine.ServicesOptions{EagerGuardDelay: -1})
	ran := &stepLog{ran: map[string][]string{}}
	c.process("owner", "wf", ran.register("owner", true))
	before := c.taskWrites()
	ids := c.startRunsOf("StepsHere", "guarded", 3)
	c.waitAll(ids, 30*time.Second)
	ran.check(t, c, ids, "owner", 3)
	if n := c.taskWrites() - before; n != 3*uint64(len(ids)) {
		t.Errorf("%d task messages stored for %d runs, want %d (three guards each; no wake: each start was stored with its first workflow task)", n, len(ids), 3*len(ids))
	}
}

// A worker announces an eager attempt's schedule-to-start as 0 (taken
// where it was scheduled), once: not its guard's wait as well, even when a
// guard is stored and delivered (the hold off here).
func TestEagerAttemptAnnouncedTakenAtOnce(t *testing.T) {
	c := newClusterOnly(t, jetstream.Options{}, 1)
	c.engine(engine.ServicesOptions{EagerGuardDelay: -1})
	ran := &stepLog{ran: map[string][]string{}}
	p := c.processWith("owner", "wf", engine.WorkerOptions{AnnounceInterval: time.Hour}, ran.register("owner", true))
	engine.TakeS2S(p.w) // nothing before the run
	ids := c.startRunsOf("StepsHere", "announced", 1)
	c.waitAll(ids, 30*time.Second)
	waitFor(t, "the guards delivered", func() bool { return p.store.guards.Load() == 3 })
	time.Sleep(200 * time.Millisecond) // a guard's wait would be observed by now
	if act, _ := engine.TakeS2S(p.w); fmt.Sprint(act) != "[0 3]" {
		t.Fatalf("activity schedule-to-start announced %v (bucket, count pairs), want [0 3]: three attempts taken at once", act)
	}
}

// Two engines share the dispatcher's consumer: the batch that settles an
// attempt is often handled by the engine that does not hold its claim.
// That hold's delay passes and the guard is stored; its owner, which
// already forgot the attempt, finds the outcome in history and the guard
// is acknowledged: every activity ran once, none recorded lost, and
// nothing stays held.
func TestEagerHoldsAcrossTwoEngines(t *testing.T) {
	c := newClusterOnly(t, jetstream.Options{}, 3)
	c.engine(engine.ServicesOptions{EagerGuardDelay: 300 * time.Millisecond})
	c.engine(engine.ServicesOptions{EagerGuardDelay: 300 * time.Millisecond})
	ran := &stepLog{ran: map[string][]string{}}
	owner := c.process("owner", "wf", ran.register("owner", true))
	ids := c.startRunsOf("StepsHere", "two-engines", 12)
	c.waitAll(ids, 60*time.Second)
	ran.check(t, c, ids, "owner", 3)
	c.waitDispatched()
	t.Logf("guards stored and delivered after a hold's delay: %d of %d attempts", owner.store.guards.Load(), 3*len(ids))
}

// The worker running an eager attempt dies in the middle of it (its
// connection drops: nothing more is acked or answered), before or after
// the dispatcher's hold ended (after: the guard is out, kept in progress
// by the owner or handed back by the other worker, which asked the owner).
// Either way the attempt is recorded lost (WorkerLost) and the retry runs
// exactly once, on the surviving worker; the run completes with the
// retry's result, never the dead attempt's.
func TestEagerActivityLostWithItsWorkerRunsAgainOnce(t *testing.T) {
	for _, after := range []time.Duration{0, 3 * time.Second} {
		t.Run(fmt.Sprintf("kill-after=%s", after), func(t *testing.T) {
			c := newCluster(t, jetstream.Options{AckWait: time.Second}, 2)
			l := newLostStep(c)
			time.Sleep(after)
			l.procs[l.owner].kill()
			l.check(t, c, "lost", "retried", []string{"failed 1 " + engine.FailureWorkerLost, "completed 2"})
			if n := c.eagerClaims("lost"); n != 1 {
				t.Fatalf("%d batches claim an eager attempt, want 1", n)
			}
			c.waitDispatched()
		})
	}
}

// The engine dies (its connection drops: nothing acked or handed back)
// while it holds a claiming batch. The batch comes back to the next
// engine, which holds it again and then guards it or sees it settled:
//   - the owner died too: the guard finds it gone, the attempt is recorded
//     lost and retried once;
//   - the owner lived and saved the outcome meanwhile (the run closed
//     without any engine): nothing is recorded lost, nothing ran twice.
func TestEngineKilledWhileHoldingAClaim(t *testing.T) {
	for _, ownerDies := range []bool{true, false} {
		t.Run(fmt.Sprintf("owner-dies=%v", ownerDies), func(t *testing.T) {
			c := newClusterOnly(t, jetstream.Options{AckWait: time.Second}, 2)
			e1 := c.engine(engine.ServicesOptions{})
			l := newLostStep(c)
			// the claiming batch is held: delivered, unacknowledged
			waitFor(t, "the claiming batch held", func() bool {
				ci := c.dispatcherInfo()
				return ci != nil && ci.NumAckPending == 1 && ci.NumPending == 0
			})
			e1.kill()
			if ownerDies {
				l.procs[l.owner].kill()
			} else {
				close(l.release)
				l.released = true
				waitFor(t, "the run closed without an engine", func() bool {
					ev, err := c.client.History(c.ctx, "lost", "")
					return err == nil && count(ev, engine.EventWorkflowCompleted) == 1
				})
			}
			c.engine(engine.ServicesOptions{})
			if ownerDies {
				l.check(t, c, "lost", "retried", []string{"failed 1 " + engine.FailureWorkerLost, "completed 2"})
			} else {
				l.check(t, c, "lost", "from the first attempt", []string{"completed 1"})
			}
			c.waitDispatched()
		})
	}
}

// lostStep is a run of onceStep whose first attempt blocks on the worker
// that runs it (eagerly) until released; later attempts return "retried".
type lostStep struct {
	procs    []*process
	owner    int
	execs    atomic.Int32
	release  chan struct{}
	released bool
}

// newLostStep starts two workers and the run "lost", and waits for its
// first attempt to run.
func newLostStep(c *cluster) *lostStep {
	c.t.Helper()
	l := &lostStep{release: make(chan struct{})}
	ranOn := make(chan int, 1)
	register := func(i int) func(*engine.Worker) {
		return func(w *engine.Worker) {
			must(w.RegisterWorkflowWithName("Once", onceStep))
			must(w.RegisterActivityWithName("step", func(ctx context.Context) (string, error) {
				if l.execs.Add(1) == 1 {
					ranOn <- i
					<-l.release
					return "from the first attempt", nil
				}
				return "retried", nil
			}))
		}
	}
	l.procs = []*process{c.process("a", "wf", register(0)), c.process("b", "wf", register(1))}
	c.t.Cleanup(func() { // before the workers' Stop
		if !l.released {
			close(l.release)
		}
	})
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "lost", TaskQueue: "wf"}, "Once", nil); err != nil {
		c.t.Fatal(err)
	}
	select {
	case l.owner = <-ranOn:
	case <-time.After(20 * time.Second):
		c.t.Fatal("the activity never ran")
	}
	return l
}

// check waits for the run's result and checks its attempts.
func (l *lostStep) check(t *testing.T, c *cluster, id, want string, attempts []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	var res string
	if err := c.client.GetResult(ctx, id, "", &res); err != nil || res != want {
		t.Fatalf("result %q, %v; want %q\n%s", res, err, want, c.dump(id))
	}
	time.Sleep(1500 * time.Millisecond) // an extra execution would show meanwhile
	if n, want := l.execs.Load(), int32(len(attempts)); n != want {
		t.Fatalf("the activity ran %d times, want %d", n, want)
	}
	events, err := c.client.History(c.ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		switch a := e.Attrs.(type) {
		case *engine.ActivityAttemptFailed:
			got = append(got, fmt.Sprintf("failed %d %s", a.Attempt, a.Failure.Type))
		case *engine.ActivityCompleted:
			got = append(got, fmt.Sprintf("completed %d", a.Attempt))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(attempts) {
		t.Fatalf("attempts %v, want %v\n%s", got, attempts, c.dump(id))
	}
}

// engineProc is an engine's services on their own connection.
type engineProc struct {
	kill func() // drops the connection, then stops the services
}

// engine runs the engine's services on a connection of their own, until
// killed or the test ends.
func (c *cluster) engine(opts engine.ServicesOptions) *engineProc {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	nc, err := jetstream.Connect(ctx, c.srv.ClientURL(), c.opts)
	if err != nil {
		c.t.Fatal(err)
	}
	store, err := jetstream.OpenExisting(ctx, nc, c.opts)
	cancel()
	if err != nil {
		c.t.Fatal(err)
	}
	opts.Logger = quietLogger()
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = engine.RunServicesWith(sctx, store, opts) }()
	var once atomic.Bool
	end := func(drop bool) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		if drop {
			nc.Close() // first: nothing more reaches the server
		}
		stop()
		<-done
		_ = store.Close()
		nc.Close()
	}
	c.t.Cleanup(func() { end(false) })
	return &engineProc{kill: func() { end(true) }}
}

// streams is a JetStream view on the cluster's server.
func (c *cluster) streams() natsjs.JetStream {
	c.t.Helper()
	if c.js != nil {
		return c.js
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := jetstream.Connect(ctx, c.srv.ClientURL(), c.opts)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	if c.js, err = natsjs.New(nc); err != nil {
		c.t.Fatal(err)
	}
	return c.js
}

// taskWrites counts the messages ever stored in the task streams.
func (c *cluster) taskWrites() uint64 {
	c.t.Helper()
	js := c.streams()
	n := uint64(0)
	for name := range js.StreamNames(c.ctx).Name() {
		if name != jetstream.TasksStream && !isShardOf(name, jetstream.TasksStream) {
			continue
		}
		st, err := js.Stream(c.ctx, name)
		if err != nil {
			c.t.Fatal(err)
		}
		n += st.CachedInfo().State.LastSeq
	}
	return n
}

func isShardOf(name, stream string) bool {
	return len(name) > len(stream)+1 && name[:len(stream)+1] == stream+"_"
}

// dispatcherInfo is the dispatcher's consumer on the (one-shard) history
// stream; nil while it does not exist.
func (c *cluster) dispatcherInfo() *natsjs.ConsumerInfo {
	cons, err := c.streams().Consumer(c.ctx, jetstream.HistoryStream, "dispatcher")
	if err != nil {
		return nil
	}
	ci, err := cons.Info(c.ctx)
	if err != nil {
		return nil
	}
	return ci
}

// waitDispatched waits until every dispatcher consumer acknowledged every
// history batch: nothing is held any more.
func (c *cluster) waitDispatched() {
	c.t.Helper()
	js := c.streams()
	waitFor(c.t, "every history batch acknowledged by the dispatcher", func() bool {
		for name := range js.StreamNames(c.ctx).Name() {
			if name != jetstream.HistoryStream && !isShardOf(name, jetstream.HistoryStream) {
				continue
			}
			cons, err := js.Consumer(c.ctx, name, "dispatcher")
			if err != nil {
				continue // FM_HISTORY of a sharded store has none
			}
			ci, err := cons.Info(c.ctx)
			if err != nil || ci.NumAckPending != 0 || ci.NumPending != 0 {
				return false
			}
		}
		return true
	})
}
