package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// A worker that runs a workflow's quick activities itself chains its
// workflow tasks (worker_chain.go): once each activity has proved quick,
// a run of three sequential activities is stored in one batch when
// started where its worker runs (the start, its first task and every
// other chained), in two otherwise (the start alone, then the chained
// tasks), with exactly the events one batch per task gives, each activity
// run once, and no task stored.
func TestChainStoresQuickActivitiesInOneBatch(t *testing.T) {
	defer engine.SetChainWait(100 * time.Millisecond)() // a loaded machine (-race) is no excuse
	for _, handoffsOff := range []bool{false, true} {
		c := newCluster(t, jetstream.Options{}, 1)
		c.processWith("both", "wf", engine.WorkerOptions{DisableLocalHandoffs: handoffsOff}, registerStepsHere)
		c.waitAll(c.startRunsOf("StepsHere", "warm", 4), 30*time.Second) // each activity proves quick
		ids := c.startRunsOf("StepsHere", "chained", 10)
		c.waitAll(ids, 30*time.Second)
		want := []engine.EventType{engine.EventWorkflowStarted, engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
			engine.EventActivityCompleted, engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
			engine.EventActivityCompleted, engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
			engine.EventActivityCompleted, engine.EventWorkflowCompleted, engine.EventWorkflowTaskCompleted}
		wantBatches, wantTasks := 1, uint64(0)
		if handoffsOff {
			wantBatches, wantTasks = 2, 14 // each start's wake task
		}
		for _, id := range ids {
			batches, err := c.store.ReadHistory(c.ctx, mustRunID(t, c, id), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(batches) != wantBatches {
				t.Errorf("hand-offs off %v: %s stored in %d batches, want %d\n%s", handoffsOff, id, len(batches), wantBatches, c.dump(id))
			}
			events, err := c.client.History(c.ctx, id, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := eventTypes(events); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: history %v, want %v", id, got, want)
			}
		}
		if n := c.taskWrites(); n != wantTasks {
			t.Errorf("hand-offs off %v: %d tasks stored, want %d", handoffsOff, n, wantTasks)
		}
	}
}

// A chained batch holds several workflow tasks. A worker that did not
// run them (an empty cache) replays the run through that batch, without a
// non-determinism error, and completes it.
func TestChainedBatchReplays(t *testing.T) {
	defer engine.SetChainWait(100 * time.Millisecond)()
	c := newCluster(t, jetstream.Options{}, 2)
	var ran atomic.Int32
	register := func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("StepsThenWait", stepsThenWait))
		must(w.RegisterActivityWithName("quick", func(ctx context.Context, i int) (int, error) {
			ran.Add(1)
			return i * 10, nil
		}))
	}
	first := c.process("first", "wf", register)
	c.warmUp("StepsThenWait", true)
	ran.Store(0)
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "replayed", TaskQueue: "wf"}, "StepsThenWait", nil); err != nil {
		t.Fatal(err)
	}
	runID := mustRunID(t, c, "replayed")
	c.waitForEvents("replayed", engine.EventActivityCompleted, 3) // (Start returns once they are stored: at once)
	batches, err := c.store.ReadHistory(c.ctx, runID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 {
		t.Fatalf("%d batches before the signal, want 1 (the start with its chained tasks)\n%s", len(batches), c.dump("replayed"))
	}
	first.w.Stop()
	c.process("second", "wf", register)
	must(c.client.Signal(c.ctx, "replayed", "", "go", 4))
	if got, err := c.intResult("replayed"); err != nil || got != 64 {
		t.Fatalf("result %d, %v; want 64\n%s", got, err, c.dump("replayed"))
	}
	if n := ran.Load(); n != 3 {
		t.Errorf("the activities ran %d times, want 3 (none again on replay)", n)
	}
}

// stepsThenWait runs "quick" three times, then waits for signal "go" and
// returns the sum.
func stepsThenWait(ctx engine.Context) (int, error) {
	sum, err := quickSum(ctx)
	if err != nil {
		return 0, err
	}
	var extra int
	engine.GetSignalChannel(ctx, "go").Receive(ctx, &extra)
	return sum + extra, nil
}

// A signal sent while the chain of a run's start runs (in Start, before
// the start is stored) stores the start itself, and the chain's append
// fails: the worker takes the run from history with the signal, and the
// activities the chain ran are not run again (their outcomes are kept for
// it): each runs once, and the signal counts.
func TestChainConflictRunsNoActivityTwice(t *testing.T) {
	defer engine.SetChainWait(time.Second)()
	c := newCluster(t, jetstream.Options{}, 1)
	var runs [4]atomic.Int32
	signalNow := atomic.Bool{}
	c.process("both", "wf", func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("StepsThenWait", stepsThenWait))
		must(w.RegisterActivityWithName("quick", func(ctx context.Context, i int) (int, error) {
			runs[i].Add(1)
			if i == 2 && signalNow.Load() {
				// stored while the chain that runs this activity is open
				if err := c.client.Signal(ctx, "conflict", "", "go", 4); err != nil {
					return 0, err
				}
			}
			return i * 10, nil
		}))
	})
	c.warmUp("StepsThenWait", true)
	for i := range runs {
		runs[i].Store(0)
	}
	signalNow.Store(true)
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "conflict", TaskQueue: "wf"}, "StepsThenWait", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := c.intResult("conflict"); err != nil || got != 64 {
		t.Fatalf("result %d, %v; want 64\n%s", got, err, c.dump("conflict"))
	}
	for i := 1; i <= 3; i++ {
		if n := runs[i].Load(); n != 1 {
			t.Errorf("activity %d ran %d times, want once\n%s", i, n, c.dump("conflict"))
		}
	}
	events := c.wholeHistory("conflict")
	if n := count(events, engine.EventSignalReceived); n != 1 {
		t.Errorf("%d signals in history, want 1", n)
	}
}

func eventTypes(events []engine.Event) []engine.EventType {
	out := make([]engine.EventType, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// The worker dies in the middle of a chain: its activities ran, their
// batch never reached history. Nothing of it is taken for done: the
// attempt history claimed last (the first activity, slow this once, so
// its claim was stored before it ran) is recorded lost after the guard
// delay, and another worker runs the run to the end from there, with a
// whole history and the right result.
func TestWorkerDyingMidChainLosesNothing(t *testing.T) {
	defer engine.SetChainWait(100 * time.Millisecond)()
	c := newClusterOnly(t, jetstream.Options{}, 2)
	c.engine(engine.ServicesOptions{EagerGuardDelay: 300 * time.Millisecond})
	var runs [4]atomic.Int32
	var slow, dying atomic.Bool // the next first activity is slow, the owner dies in the second
	var owner *process
	register := func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("QuickSum", quickSum))
		must(w.RegisterActivityWithName("quick", func(ctx context.Context, i int) (int, error) {
			runs[i].Add(1)
			if i == 1 && slow.CompareAndSwap(true, false) {
				time.Sleep(150 * time.Millisecond) // longer than chainWait: not chained
			}
			if i == 2 && dying.CompareAndSwap(true, false) {
				owner.kill() // the process dies here: its connection is gone
			}
			return i * 10, nil
		}))
	}
	// the chain in the worker, not in Start (hand-offs off)
	owner = c.processWith("owner", "wf", engine.WorkerOptions{DisableLocalHandoffs: true}, register)
	c.warmUp("QuickSum", false)
	for i := range runs {
		runs[i].Store(0)
	}
	slow.Store(true)
	dying.Store(true)
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "orphan", TaskQueue: "wf"}, "QuickSum", nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); runs[2].Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the owner never ran the second activity")
		}
	}
	c.process("other", "wf", register)
	if got, err := c.intResult("orphan"); err != nil || got != 60 {
		t.Fatalf("result %d, %v; want 60\n%s", got, err, c.dump("orphan"))
	}
	events := c.wholeHistory("orphan")
	if n := count(events, engine.EventActivityAttemptFailed); n != 1 {
		t.Errorf("%d attempts recorded failed, want 1 (the first activity's, its worker lost)\n%s", n, c.dump("orphan"))
	}
	if n := count(events, engine.EventActivityCompleted); n != 3 {
		t.Errorf("%d activities completed, want 3\n%s", n, c.dump("orphan"))
	}
	if n := runs[1].Load(); n != 2 {
		t.Errorf("the first activity ran %d times, want 2 (its lost attempt, its retry)", n)
	}
}

// quickSum runs "quick" three times and returns the sum.
func quickSum(ctx engine.Context) (int, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond}})
	sum := 0
	for i := 1; i <= 3; i++ {
		var r int
		if err := engine.ExecuteActivity(ctx, "quick", i).Get(ctx, &r); err != nil {
			return 0, err
		}
		sum += r
	}
	return sum, nil
}

// An attempt started before its batch was appended, whose append's answer
// is lost: the attempt is cancelled, its outcome never saved (even if its
// function ignores the cancellation and returns later), it is recorded
// lost, and its retry gives the result.
func TestAbandonedSpeculativeAttemptIsNotBelieved(t *testing.T) {
	defer engine.SetChainWait(100 * time.Millisecond)() // the quick ones chained even under load, the slow one not
	c := newCluster(t, jetstream.Options{}, 1)
	var runs atomic.Int32
	var slowNext atomic.Bool
	// the chain in the worker, not in Start (hand-offs off)
	p := c.processWith("owner", "wf", engine.WorkerOptions{DisableLocalHandoffs: true}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("QuickSum", quickSum))
		must(w.RegisterActivityWithName("quick", func(ctx context.Context, i int) (int, error) {
			if i != 2 {
				return i * 10, nil
			}
			runs.Add(1)
			if slowNext.CompareAndSwap(true, false) {
				time.Sleep(300 * time.Millisecond) // deaf to its cancellation
				return 999, nil
			}
			return i * 10, nil
		}))
	})
	c.warmUp("QuickSum", false)
	runs.Store(0)
	slowNext.Store(true)
	p.store.loseEager.Store(true)
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "lost", TaskQueue: "wf"}, "QuickSum", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := c.intResult("lost"); err != nil || got != 60 {
		t.Fatalf("result %d, %v; want 60\n%s", got, err, c.dump("lost"))
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("the second activity ran %d times, want 2 (the abandoned attempt, its retry)\n%s", n, c.dump("lost"))
	}
	events := c.wholeHistory("lost")
	if n := count(events, engine.EventActivityAttemptFailed); n != 1 {
		t.Errorf("%d attempts recorded failed, want 1 (the abandoned one, lost)\n%s", n, c.dump("lost"))
	}
}

// Chained tasks share one batch, and the store takes at most 8 MB in one:
// a chain stops adding results before that. Six sequential activities
// returning 1.5 MB each (9 MB in all) complete.
func TestChainOfLargeResultsStaysStorable(t *testing.T) {
	defer engine.SetChainWait(100 * time.Millisecond)()
	c := newCluster(t, jetstream.Options{}, 1)
	big := strings.Repeat("x", 3<<19)
	c.process("owner", "wf", func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Big", func(ctx engine.Context, n int) (int, error) {
			ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
			total := 0
			for range n {
				var s string
				if err := engine.ExecuteActivity(ctx, "big", nil).Get(ctx, &s); err != nil {
					return 0, err
				}
				total += len(s)
			}
			return total, nil
		}))
		must(w.RegisterActivityWithName("big", func(ctx context.Context) (string, error) { return big, nil }))
	})
	for i, n := range []int{4, 6} { // the first run proves "big" quick
		id := fmt.Sprintf("big-%d", i)
		if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: id, TaskQueue: "wf"}, "Big", n); err != nil {
			t.Fatal(err)
		}
		var got int
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		err := c.client.GetResult(ctx, id, "", &got)
		cancel()
		if err != nil || got != n*len(big) {
			t.Fatalf("%s: %d, %v; want %d\n%s", id, got, err, n*len(big), c.dump(id))
		}
	}
}

// Chains under fire: runs of ten quick activities each while signals keep
// arriving, so chains' appends conflict. Every run ends with every signal
// counted once, each activity run once (a conflict's retry takes the
// chain's outcomes), a gapless history, and a history that replays.
func TestChainsUnderSignals(t *testing.T) {
	defer engine.SetChainWait(100 * time.Millisecond)()
	c := newCluster(t, jetstream.Options{}, 1)
	var mu sync.Mutex
	ran := map[string]int{}
	// the chains in the worker, while the signals come (hand-offs off)
	c.processWith("owner", "wf", engine.WorkerOptions{DisableLocalHandoffs: true}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Loop", loopThenSignals))
		must(w.RegisterActivityWithName("inc", func(ctx context.Context, i int) (int, error) {
			info := engine.GetActivityInfo(ctx)
			time.Sleep(2 * time.Millisecond) // chains last long enough for signals to land in them
			mu.Lock()
			ran[fmt.Sprintf("%s/%d", info.WorkflowID, i)]++
			mu.Unlock()
			return i + 1, nil
		}))
	})
	start := func(id string) {
		if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: id, TaskQueue: "wf"}, "Loop", 0); err != nil {
			t.Fatal(err)
		}
	}
	result := func(id string) (loopResult, error) {
		var got loopResult
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		defer cancel()
		err := c.client.GetResult(ctx, id, "", &got)
		return got, err
	}
	start("warm") // "inc" proves quick
	for i := 1; i <= 5; i++ {
		must(c.client.Signal(c.ctx, "warm", "", "add", i))
	}
	if _, err := result("warm"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var wg sync.WaitGroup
	for r := range 10 {
		id := fmt.Sprintf("fire-%d", r)
		ids = append(ids, id)
		start(id)
		wg.Go(func() {
			for i := 1; i <= 5; i++ {
				time.Sleep(time.Duration(1+r*i%3) * time.Millisecond)
				if err := c.client.Signal(c.ctx, id, "", "add", i); err != nil {
					t.Errorf("signal %s: %v", id, err)
				}
			}
		})
	}
	wg.Wait()
	replayer := engine.NewWorkflowReplayer()
	must(replayer.RegisterWorkflowWithName("Loop", loopThenSignals))
	for _, id := range ids {
		got, err := result(id)
		if err != nil || got.Steps != 55 || got.Signals != 15 {
			t.Fatalf("%s: %+v, %v; want steps 55, signals 15\n%s", id, got, err, c.dump(id))
		}
		events := c.wholeHistory(id)
		if n := count(events, engine.EventSignalReceived); n != 5 {
			t.Errorf("%s: %d signals in history, want 5", id, n)
		}
		if err := replayer.ReplayWorkflowHistory(events); err != nil {
			t.Errorf("%s: replay: %v", id, err)
		}
		mu.Lock()
		for i := range 10 {
			if n := ran[fmt.Sprintf("%s/%d", id, i)]; n != 1 {
				t.Errorf("%s: activity %d ran %d times, want once", id, i, n)
			}
		}
		mu.Unlock()
	}
}

type loopResult struct {
	Steps   int `json:"steps"`
	Signals int `json:"signals"`
}

// loopThenSignals runs "inc" ten times, then sums signals "add" until it
// has five.
func loopThenSignals(ctx engine.Context, _ int) (loopResult, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var res loopResult
	for i := range 10 {
		var r int
		if err := engine.ExecuteActivity(ctx, "inc", i).Get(ctx, &r); err != nil {
			return res, err
		}
		res.Steps += r
	}
	ch := engine.GetSignalChannel(ctx, "add")
	for range 5 {
		var v int
		ch.Receive(ctx, &v)
		res.Signals += v
	}
	return res, nil
}

// WorkerOptions.DisableChaining: one append per activity, as before.
func TestChainingCanBeDisabled(t *testing.T) {
	defer engine.SetChainWait(100 * time.Millisecond)()
	c := newCluster(t, jetstream.Options{}, 1)
	c.processWith("both", "wf", engine.WorkerOptions{DisableChaining: true}, registerStepsHere)
	c.waitAll(c.startRunsOf("StepsHere", "warm", 4), 30*time.Second)
	ids := c.startRunsOf("StepsHere", "unchained", 3)
	c.waitAll(ids, 30*time.Second)
	for _, id := range ids {
		batches, err := c.store.ReadHistory(c.ctx, mustRunID(t, c, id), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) != 4 {
			t.Errorf("%s stored in %d batches, want 4 (the start with its first task, then one per activity)", id, len(batches))
		}
	}
}

// startOf starts a run of workflowType with id on queue "wf".
func (c *cluster) startOf(id, workflowType string, input any) {
	c.t.Helper()
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: id, TaskQueue: "wf"}, workflowType, input); err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
}

// intResult waits for the int result of run id.
func (c *cluster) intResult(id string) (int, error) {
	var got int
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	err := c.client.GetResult(ctx, id, "", &got)
	return got, err
}

// warmUp runs four runs of workflowType to their end (signalled "go" when
// signal), so that their activities prove quick (noteQuickness).
func (c *cluster) warmUp(workflowType string, signal bool) {
	c.t.Helper()
	for i := range 4 {
		id := fmt.Sprintf("warm-%d", i)
		c.startOf(id, workflowType, nil)
		if signal {
			must(c.client.Signal(c.ctx, id, "", "go", 0))
		}
		if _, err := c.intResult(id); err != nil {
			c.t.Fatalf("%s: %v", id, err)
		}
	}
}

// wholeHistory returns run id's history, checked gapless.
func (c *cluster) wholeHistory(id string) []engine.Event {
	c.t.Helper()
	events, err := c.client.History(c.ctx, id, "")
	if err != nil {
		c.t.Fatal(err)
	}
	checkHistory(c.t, events)
	return events
}

// waitForEvents waits until run id's history holds n events of type typ.
func (c *cluster) waitForEvents(id string, typ engine.EventType, n int) {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		events, err := c.client.History(c.ctx, id, "")
		if err == nil && count(events, typ) >= n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: fewer than %d %s events after 10 s (%v)\n%s", id, n, typ, err, c.dump(id))
		}
	}
}

// A chain that ends on a task deriving more (a timer) stores a batch the
// dispatcher decodes: it must dispatch nothing for the activities the
// batch both schedules and completes, or they would run again.
func TestChainEndingOnATimerDispatchesNoChainedActivity(t *testing.T) {
	defer engine.SetChainWait(100 * time.Millisecond)()
	c := newCluster(t, jetstream.Options{}, 1)
	var mu sync.Mutex
	ran := map[string]int{}
	c.process("owner", "wf", func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("QuickSum", quickSum))
		must(w.RegisterWorkflowWithName("QuickThenSleep", func(ctx engine.Context) (int, error) {
			sum, err := quickSum(ctx)
			if err == nil {
				err = engine.Sleep(ctx, 50*time.Millisecond)
			}
			return sum, err
		}))
		must(w.RegisterActivityWithName("quick", func(ctx context.Context, i int) (int, error) {
			mu.Lock()
			ran[fmt.Sprintf("%s/%d", engine.GetActivityInfo(ctx).WorkflowID, i)]++
			mu.Unlock()
			return i * 10, nil
		}))
	})
	c.warmUp("QuickSum", false)
	before := c.taskWrites()
	for i := range 5 {
		c.startOf(fmt.Sprintf("sleepy-%d", i), "QuickThenSleep", nil)
	}
	for i := range 5 {
		id := fmt.Sprintf("sleepy-%d", i)
		if got, err := c.intResult(id); err != nil || got != 60 {
			t.Fatalf("%s: %d, %v\n%s", id, got, err, c.dump(id))
		}
		if n := count(c.wholeHistory(id), engine.EventTimerStarted); n != 1 {
			t.Fatalf("%s: %d timers, want 1", id, n)
		}
	}
	// Everything derived: the tasks stored are the timers' wake-ups alone
	// (a wrongly dispatched activity would be one more task each).
	c.waitDispatched()
	if n := c.taskWrites() - before; n != 5 {
		t.Errorf("%d tasks stored for 5 runs, want 5 (each run's timer firing; no activity task)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 5 {
		for seq := 1; seq <= 3; seq++ {
			if n := ran[fmt.Sprintf("sleepy-%d/%d", i, seq)]; n != 1 {
				t.Errorf("sleepy-%d: activity %d ran %d times, want once", i, seq, n)
			}
		}
	}
}
