package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// Eager starts (engine/local.go): a worker in the starting client's
// process takes the run's first workflow task; the dispatcher holds the
// wake task back and publishes it only if no later batch of the run comes
// within its guard delay.

// gatedGreet is the first workflow task that never ends in the process
// that took it (its code waits on gate, as a hung or dying worker would;
// entered is closed once it does); in another process, greet runs it.
func gatedGreet(gate chan struct{}, entered chan struct{}) func(engine.Context, string) (string, error) {
	var once sync.Once
	return func(ctx engine.Context, name string) (string, error) {
		once.Do(func() { close(entered) })
		<-gate
		return greet(ctx, name)
	}
}

func greet(_ engine.Context, name string) (string, error) { return "hello " + name, nil }

// The worker that took a run's first task dies with it: the dispatcher's
// wake task, published after the guard delay, has another worker run the
// run, once. Without the held wake, the run would wait forever.
func TestEagerStartOfADeadWorkerIsWokenElsewhere(t *testing.T) {
	c := newClusterOnly(t, jetstream.Options{}, 2)
	c.engine(engine.ServicesOptions{EagerGuardDelay: 300 * time.Millisecond})
	gate, entered := make(chan struct{}), make(chan struct{})
	defer close(gate)
	owner := c.process("owner", "wf", func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Greet", gatedGreet(gate, entered))) })
	c.process("other", "wf", func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Greet", greet)) })
	// With a signal, the start is stored alone and its first task handed
	// to the owner (a plain start is stored with its first task, run
	// before: TestStartWaitsForNoBlockedFirstTask).
	if _, err := c.client.SignalWithStart(c.ctx, engine.StartOptions{ID: "orphan", TaskQueue: "wf"}, "Greet", "ada", "hi", nil); err != nil {
		t.Fatal(err)
	}
	select { // the owner runs the task now (and hangs)
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the owner never took the start's first task")
	}
	owner.kill() // and dies: its connection is gone
	began := time.Now()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	var got string
	if err := c.client.GetResult(ctx, "orphan", "", &got); err != nil || got != "hello ada" {
		t.Fatalf("result %q, %v; want hello ada", got, err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the run completed %s after its worker died, want about the guard delay", d)
	}
	evs, err := c.client.History(c.ctx, "orphan", "")
	if err != nil {
		t.Fatal(err)
	}
	var types []engine.EventType
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []engine.EventType{engine.EventWorkflowStarted, engine.EventSignalReceived, engine.EventWorkflowCompleted, engine.EventWorkflowTaskCompleted}
	if len(types) != len(want) {
		t.Fatalf("history %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("history %v, want %v", types, want)
		}
	}
	c.waitDispatched()
}

// A run whose first task is taken where it was started stores no task:
// the start is acknowledged by the dispatcher once the worker's batch
// comes, and no wake task follows even after the guard delay. A worker
// with local hand-offs off takes none: its run's start wakes it through
// the task stream, as before.
func TestEagerStartStoresNoTask(t *testing.T) {
	for _, off := range []bool{false, true} {
		c := newClusterOnly(t, jetstream.Options{}, 1)
		c.engine(engine.ServicesOptions{EagerGuardDelay: 300 * time.Millisecond})
		c.processWith("owner", "wf", engine.WorkerOptions{DisableLocalHandoffs: off}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Greet", greet)) })
		before := c.taskWrites()
		if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "here", TaskQueue: "wf"}, "Greet", "bo"); err != nil {
			t.Fatal(err)
		}
		var got string
		ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
		err := c.client.GetResult(ctx, "here", "", &got)
		cancel()
		if err != nil || got != "hello bo" {
			t.Fatalf("local hand-offs off=%v: result %q, %v; want hello bo", off, got, err)
		}
		// Every batch acknowledged: a held start is acknowledged only once
		// settled, or once its wake is stored.
		c.waitDispatched()
		want := uint64(0)
		if off {
			want = 1
		}
		if n := c.taskWrites() - before; n != want {
			t.Errorf("local hand-offs off=%v: %d task messages stored, want %d", off, n, want)
		}
	}
}

// A run taken by a worker here whose next step is left to the server (a
// timer) may close in another process: the wait, which skipped the
// reader of history headers while the run stayed here, hears that it
// left and takes its close from the reader, promptly rather than after
// its bound (localHotMax, set to 5 s here).
func TestWaitForAnEagerRunThatClosesElsewhere(t *testing.T) {
	defer engine.SetLocalHotMax(5 * time.Second)()
	c := newClusterOnly(t, jetstream.Options{}, 2)
	c.engine(engine.ServicesOptions{EagerGuardDelay: 300 * time.Millisecond})
	nap := func(ctx engine.Context) (string, error) {
		if err := engine.Sleep(ctx, 300*time.Millisecond); err != nil {
			return "", err
		}
		return "rested", nil
	}
	owner := c.process("owner", "wf", func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Nap", nap)) })
	// another process: what it closes is not handed to this one's waits
	c.processWith("other", "wf", engine.WorkerOptions{DisableLocalHandoffs: true}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Nap", nap)) })
	began := time.Now()
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "nap", TaskQueue: "wf"}, "Nap", nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var got string
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
		defer cancel()
		done <- c.client.GetResult(ctx, "nap", "", &got)
	}()
	waitFor(t, "the owner's timer started", func() bool {
		evs, _ := c.client.History(c.ctx, "nap", "")
		return len(evs) >= 3
	})
	owner.kill() // the timer's task can only go to the other process now
	if err := <-done; err != nil || got != "rested" {
		t.Fatalf("result %q, %v; want rested", got, err)
	}
	if d := time.Since(began); d > 900*time.Millisecond {
		t.Errorf("the result came %s after the start, want soon after the 300 ms timer", d)
	}
}

// A run's first workflow task runs before its start is stored, with it,
// in the starting client's process: one append for both. Workflow code
// that blocks does not hold Start (firstTaskMax): its start is stored
// alone, and the task goes through the server once the code unblocks.
func TestStartWaitsForNoBlockedFirstTask(t *testing.T) {
	c := newClusterOnly(t, jetstream.Options{}, 1)
	c.engine(engine.ServicesOptions{EagerGuardDelay: 300 * time.Millisecond})
	gate := make(chan struct{})
	c.process("owner", "wf", func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Greet", greet))
		must(w.RegisterWorkflowWithName("Gated", gatedGreet(gate, make(chan struct{}))))
	})
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "quick", TaskQueue: "wf"}, "Greet", "cy"); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "blocked", TaskQueue: "wf"}, "Gated", "di"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("Start took %s with a first task that blocks, want about 100 ms", d)
	}
	close(gate)
	for id, want := range map[string]string{"quick": "hello cy", "blocked": "hello di"} {
		var got string
		ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
		err := c.client.GetResult(ctx, id, "", &got)
		cancel()
		if err != nil || got != want {
			t.Fatalf("%s: result %q, %v; want %q", id, got, err, want)
		}
	}
	quick, err := c.store.ReadHistory(c.ctx, mustRunID(t, c, "quick"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(quick) != 1 {
		t.Errorf("quick: %d history batches, want 1 (its start with its first task, which completed it)", len(quick))
	}
	evs, err := c.client.History(c.ctx, "blocked", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Type != engine.EventWorkflowStarted || evs[1].Type != engine.EventWorkflowCompleted {
		t.Errorf("blocked: history %v, want its start, then one task completing it", evs)
	}
	c.waitDispatched()
}

func mustRunID(t *testing.T, c *cluster, id string) string {
	t.Helper()
	x, err := c.client.Describe(c.ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return x.RunID
}
