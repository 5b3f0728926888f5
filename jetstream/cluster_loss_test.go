package jetstream_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Losing a node under load (issue 20, scope 4). A 3-node cluster with R3
// streams; the engine, the worker and the client each dial every node (a
// comma-separated URL list) and land where the NATS client puts them. A
// starter keeps starting workflows (activity, timer, activity) while a node
// is shut down hard; then every acknowledged start must complete, every
// history must be whole, no activity completion may be lost, and the stall
// in completions around the loss is measured from the WorkflowCompleted
// times in the histories.

// stallBound is the generous limit a test asserts; the README's figure
// is the measured one (target under 5 s).
const stallBound = 20 * time.Second

func TestClusterLosesHistoryLeader(t *testing.T) {
	// The worst placement: the worker and the client dial the leader's
	// node alone (they learn the others from it), so they lose their
	// connection along with the leader.
	r := newLossRig(t, func(c *testCluster) string { return c.urls[max(c.streamLeader(jetstream.HistoryStream), 0)] })
	r.underLoad(func() time.Time {
		leader := r.c.streamLeader(jetstream.HistoryStream)
		if leader < 0 {
			t.Fatal("no node leads the history stream")
		}
		t.Logf("killing n%d, leader of %s (engine on n%d, worker on n%d, client on n%d)", leader, jetstream.HistoryStream, r.c.nodeOf(r.engine), r.c.nodeOf(r.worker), r.c.nodeOf(r.client))
		at := time.Now()
		r.c.kill(leader)
		return at
	})
}

func TestClusterLosesEngineNode(t *testing.T) {
	r := newLossRig(t, nil)
	r.underLoad(func() time.Time {
		n := r.c.nodeOf(r.engine)
		if n < 0 {
			t.Fatalf("the engine is connected to %q, no node of the cluster", r.engine.Conn.ConnectedUrl())
		}
		t.Logf("killing n%d, the engine's node (history leader n%d)", n, r.c.streamLeader(jetstream.HistoryStream))
		at := time.Now()
		r.c.kill(n)
		return at
	})
	if got := r.engine.Conn.ConnectedUrl(); got == "" {
		t.Error("the engine did not reconnect")
	}
}

func TestClusterRollingRestart(t *testing.T) {
	r := newLossRig(t, nil)
	r.underLoad(func() time.Time {
		first := time.Now()
		for i := range r.c.urls {
			t.Logf("restarting n%d", i)
			r.c.kill(i)
			time.Sleep(time.Second)
			r.c.start(i)
			r.c.waitCurrent(30 * time.Second)
			r.waitReplicasCurrent(60 * time.Second)
		}
		return first
	})
}

type lossRig struct {
	t                      *testing.T
	c                      *testCluster
	ctx                    context.Context
	engine, worker, client *jetstream.Node

	shards int // the store's history and task shards (0: one)

	mu    sync.Mutex
	execs map[string]int // activity executions by run id and seq
}

// newLossRig boots the engine on the whole cluster's URL list (which
// creates the R3 streams), then the worker and the client on the URL place
// returns (nil: the whole list too).
func newLossRig(t *testing.T, place func(*testCluster) string) *lossRig {
	return newShardedLossRig(t, place, 0)
}

// newShardedLossRig is newLossRig on a store with that many shards.
func newShardedLossRig(t *testing.T, place func(*testCluster) string, shards int) *lossRig {
	if testing.Short() {
		t.Skip("node loss under load takes tens of seconds")
	}
	// Under `make test-cluster` (FOREMAN_CLUSTER_LOSS=1), which .ci/run
	// calls after make test: under make test's parallel load on 2 cores
	// (and the race detector) the stalls measure the machine rather than
	// the failover.
	if os.Getenv("FOREMAN_CLUSTER_LOSS") == "" {
		t.Skip("node loss under load: run with make test-cluster (FOREMAN_CLUSTER_LOSS=1)")
	}
	r := &lossRig{t: t, c: newTestCluster(t, 3), execs: map[string]int{}, shards: shards}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	r.ctx = ctx
	r.engine = r.boot("loss-engine", r.c.URL())
	url := r.c.URL()
	if place != nil {
		url = place(r.c)
	}
	r.worker, r.client = r.boot("loss-worker", url), r.boot("loss-client", url)
	t.Cleanup(r.runServices(r.engine))

	w := engine.NewWorker(r.worker.Store, "q", engine.WorkerOptions{Logger: clusterTestLogger(), ShutdownTimeout: time.Second})
	r.register(w)
	must(w.Start(ctx))
	t.Cleanup(w.Stop)
	return r
}

// boot connects a store to url with R3 streams; the test closes it.
func (r *lossRig) boot(name, url string) *jetstream.Node {
	n, err := jetstream.Boot(r.ctx, jetstream.Options{NATSURL: url, Replicas: 3, Shards: r.shards, Name: name, Logger: clusterTestLogger()}, clusterTestLogger())
	if err != nil {
		r.t.Fatalf("boot %s on the cluster: %v", name, err)
	}
	r.t.Cleanup(n.Close)
	return n
}

// runServices runs the engine's services on n until the returned func.
func (r *lossRig) runServices(n *jetstream.Node) (stop func()) {
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = engine.RunServices(ctx, n.Store, clusterTestLogger()) }()
	return func() { cancel(); <-done }
}

// register adds the load's workflow and its counted activity to w.
func (r *lossRig) register(w *engine.Worker) {
	must(w.RegisterActivityWithName("Step", func(ctx context.Context, n int) (int, error) {
		info := engine.GetActivityInfo(ctx)
		r.mu.Lock()
		r.execs[fmt.Sprintf("%s/%d", info.RunID, info.Seq)]++
		r.mu.Unlock()
		return n + 1, nil
	}))
	must(w.RegisterWorkflowWithName("Loss", func(ctx engine.Context, n int) (int, error) {
		var a, b int
		if err := engine.ExecuteActivity(ctx, "Step", n).Get(ctx, &a); err != nil {
			return 0, err
		}
		if err := engine.Sleep(ctx, 100*time.Millisecond); err != nil {
			return 0, err
		}
		if err := engine.ExecuteActivity(ctx, "Step", a).Get(ctx, &b); err != nil {
			return 0, err
		}
		return b, nil
	}))
}

func clusterTestLogger() *slog.Logger {
	level := slog.LevelError + 4
	if os.Getenv("FOREMAN_TEST_LOG") != "" {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// underLoad starts a workflow every 100 ms from the client, runs disrupt
// after a warm-up (it returns when the disruption began), keeps the load on
// for a while after it, then checks every acknowledged start.
func (r *lossRig) underLoad(disrupt func() time.Time) {
	acked := r.startLoad(3*time.Second, disrupt, 5*time.Second)
	r.checkCompleted(acked)
}

type loadResult struct {
	ids                    []string
	disruptedAt, stoppedAt time.Time
}

func (r *lossRig) startLoad(warmup time.Duration, disrupt func() time.Time, after time.Duration) loadResult {
	var (
		mu      sync.Mutex
		ids     []string
		wg      sync.WaitGroup
		slowest time.Duration // the longest acknowledged start
		refused int
	)
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	client := engine.NewClient(r.client.Store, engine.ClientOptions{})
	go func() {
		defer close(loopDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// Each start on its own: one stuck on a dead leader must not
			// hold the load back.
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("loss-%d", i)
				sctx, cancel := context.WithTimeout(r.ctx, 15*time.Second)
				defer cancel()
				began := time.Now()
				_, err := client.Start(sctx, engine.StartOptions{ID: id, TaskQueue: "q"}, "Loss", i)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					refused++
					r.t.Logf("start %s not acknowledged: %v", id, err)
					return
				}
				ids = append(ids, id) // acknowledged: it must complete
				slowest = max(slowest, time.Since(began))
			}()
		}
	}()
	time.Sleep(warmup)
	at := disrupt()
	time.Sleep(after)
	close(stop)
	<-loopDone
	wg.Wait()
	r.t.Logf("starts: %d acknowledged, %d refused; the slowest acknowledged took %v", len(ids), refused, slowest.Round(time.Millisecond))
	return loadResult{ids: ids, disruptedAt: at, stoppedAt: time.Now()}
}

// checkCompleted waits for every id to complete and checks its history and
// its activity executions, then measures the stall around disruptedAt.
// It returns how many activities ran more than once.
func (r *lossRig) checkCompleted(load loadResult) (reruns int) {
	ids, disruptedAt, stoppedAt := load.ids, load.disruptedAt, load.stoppedAt
	t := r.t
	t.Helper()
	client := engine.NewClient(r.client.Store, engine.ClientOptions{})
	// Generous: on a loaded 2-core machine under the race detector reading
	// a hundred histories back takes tens of seconds by itself.
	wctx, cancel := context.WithTimeout(r.ctx, 2*time.Minute)
	defer cancel()
	var completions []time.Time
	dups := 0
	for _, id := range ids {
		var got int
		if err := client.GetResult(wctx, id, "", &got); err != nil {
			events, herr := client.History(r.ctx, id, "")
			var types []string
			for _, e := range events {
				types = append(types, string(e.Type))
			}
			r.mu.Lock()
			execs := fmt.Sprint(r.execs)
			r.mu.Unlock()
			if len(events) > 0 {
				t.Logf("run %s; executions %s", events[0].Attrs.(*engine.WorkflowStarted).RunID, execs)
			}
			r.dumpConsumers()
			if path := os.Getenv("FOREMAN_TEST_GOROUTINES"); path != "" {
				if f, err := os.Create(path); err == nil {
					_ = pprof.Lookup("goroutine").WriteTo(f, 1)
					f.Close()
				}
			}
			t.Fatalf("acknowledged start %s did not complete: %v; its history (%v): %v", id, err, herr, types)
		}
		var n int
		fmt.Sscanf(id, "loss-%d", &n)
		if got != n+2 {
			t.Errorf("%s: result %d, want %d", id, got, n+2)
		}
		events, err := client.History(wctx, id, "")
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		count := map[engine.EventType]int{}
		for j, e := range events {
			if e.ID != int64(j+1) {
				t.Fatalf("%s: event %d has id %d (a gap or a duplicate)", id, j+1, e.ID)
			}
			count[e.Type]++
			if e.Type == engine.EventWorkflowCompleted {
				completions = append(completions, e.Time)
			}
			if a, ok := e.Attrs.(*engine.ActivityScheduled); ok {
				r.mu.Lock()
				runs := r.execs[fmt.Sprintf("%s/%d", events[0].Attrs.(*engine.WorkflowStarted).RunID, a.Seq)]
				r.mu.Unlock()
				if runs == 0 {
					t.Errorf("%s: activity %d is in history but never ran", id, a.Seq)
				}
				dups += max(runs-1, 0)
			}
		}
		if count[engine.EventActivityScheduled] != 2 || count[engine.EventActivityCompleted] != 2 ||
			count[engine.EventTimerStarted] != 1 || count[engine.EventTimerFired] != 1 || count[engine.EventWorkflowCompleted] != 1 {
			t.Errorf("%s: events %v, want 2 activities scheduled and completed, 1 timer started and fired, 1 completion", id, count)
		}
	}
	slices.SortFunc(completions, func(a, b time.Time) int { return a.Compare(b) })
	// The stall: the longest wait for the next completion, from the last
	// one before the disruption (or the disruption itself) to the first
	// one after the load stopped.
	var stall time.Duration
	prev := disruptedAt
	for _, c := range completions {
		if !c.After(disruptedAt) {
			prev = c
			continue
		}
		stall = max(stall, c.Sub(prev))
		prev = c
		if c.After(stoppedAt) {
			break
		}
	}
	t.Logf("%d acknowledged starts completed; longest gap between completions after the disruption: %v; activity re-executions (at-least-once): %d",
		len(ids), stall.Round(time.Millisecond), dups)
	if len(ids) < 20 {
		t.Errorf("only %d starts acknowledged: the load did not run", len(ids))
	}
	if stall > stallBound {
		t.Errorf("completions stalled %v after the disruption, more than %v", stall, stallBound)
	}
	return dups
}

// waitReplicasCurrent waits until every stream's replicas are all current,
// so the next node may go down without losing a quorum.
func (r *lossRig) waitReplicasCurrent(d time.Duration) {
	t := r.t
	t.Helper()
	js, err := natsjs.New(r.client.Conn)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(d)
	for {
		if r.replicasCurrent(js) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("stream replicas did not catch up")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *lossRig) replicasCurrent(js natsjs.JetStream) bool {
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return false
		}
		cl := s.CachedInfo().Cluster
		if cl == nil || cl.Leader == "" || len(cl.Replicas) != 2 {
			return false
		}
		for _, p := range cl.Replicas {
			if !p.Current || p.Offline {
				return false
			}
		}
	}
	return names.Err() == nil
}

// dumpConsumers logs the state of every consumer of the task stream.
func (r *lossRig) dumpConsumers() {
	js, err := natsjs.New(r.client.Conn)
	if err != nil {
		return
	}
	for _, stream := range []string{jetstream.TasksStream, jetstream.HistoryStream} {
		st, err := js.Stream(r.ctx, stream)
		if err != nil {
			r.t.Logf("stream %s: %v", stream, err)
			continue
		}
		r.t.Logf("stream %s: %+v", stream, st.CachedInfo().State)
		l := st.ListConsumers(r.ctx)
		for ci := range l.Info() {
			r.t.Logf("consumer %s: delivered %+v ack floor %+v pending %d ack pending %d redelivered %d waiting %d leader %v",
				ci.Name, ci.Delivered, ci.AckFloor, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting, ci.Cluster)
		}
	}
}
