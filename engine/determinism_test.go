package engine_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/enginetest"
)

func step(name string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) { return name, nil }
}

// FM 7: reordering activities under a running execution is detected on
// replay and reported as a workflow-task failure that names the mismatch;
// once the original code is deployed again, the run completes.
func TestNonDeterminismDetected(t *testing.T) {
	h := newHarness(t)
	orderAB := func(ctx engine.Context) (string, error) {
		ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
		var a, b string
		must(engine.ExecuteActivity(ctx, "A", nil).Get(ctx, &a))
		engine.GetSignalChannel(ctx, "continue").Receive(ctx, nil)
		must(engine.ExecuteActivity(ctx, "B", nil).Get(ctx, &b))
		return a + b, nil
	}
	var replays atomic.Int32 // runs of the changed code
	orderBA := func(ctx engine.Context) (string, error) {
		replays.Add(1)
		ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
		var a, b string
		must(engine.ExecuteActivity(ctx, "B", nil).Get(ctx, &b))
		engine.GetSignalChannel(ctx, "continue").Receive(ctx, nil)
		must(engine.ExecuteActivity(ctx, "A", nil).Get(ctx, &a))
		return a + b, nil
	}
	register := func(wf any) func(w *engine.Worker) {
		return func(w *engine.Worker) {
			must(w.RegisterWorkflowWithName("Steps", wf))
			must(w.RegisterActivityWithName("A", step("a")))
			must(w.RegisterActivityWithName("B", step("b")))
		}
	}
	w1 := h.worker("q", engine.WorkerOptions{}, register(orderAB))
	h.start("nd", "q", "Steps", nil)
	h.waitForEvent("nd", engine.EventActivityCompleted)
	waitFor(t, "task after A", func() bool {
		ev := h.history("nd")
		return ev[len(ev)-1].Type == engine.EventWorkflowTaskCompleted
	})
	w1.Stop()
	w2 := h.worker("q", engine.WorkerOptions{CacheSize: -1}, register(orderBA))
	must(h.client.Signal(h.ctx, "nd", "", "continue", nil))
	h.waitForEvent("nd", engine.EventWorkflowTaskFailed)
	x, err := h.client.Describe(h.ctx, "nd", "")
	must(err)
	if x.Status != engine.StatusRunning || x.TaskFailure == nil || x.TaskFailure.Code != engine.CodeNonDeterminism ||
		!strings.Contains(x.TaskFailure.Message, "ActivityScheduled(A, seq 1)") || !strings.Contains(x.TaskFailure.Message, "activity B") {
		t.Fatalf("task failure: %+v", x.TaskFailure)
	}
	// The task is retried (the code replays again), and the failure is
	// recorded once, not on every retry.
	failedAfter := replays.Load()
	// Two retries: the first one's failure handling is over once the second replays.
	waitFor(t, "two retries of the failed task", func() bool { return replays.Load() >= failedAfter+2 })
	if n := count(h.history("nd"), engine.EventWorkflowTaskFailed); n != 1 {
		t.Fatalf("%d task failures recorded", n)
	}
	w2.Stop()
	h.worker("q", engine.WorkerOptions{}, register(orderAB))
	var s string
	h.mustResult("nd", &s)
	if s != "ab" {
		t.Fatalf("result %q", s)
	}
}

// FM 8: a workflow whose code always panics backs off, is flagged, and does
// not hold up other workflows.
func TestPoisonWorkflowBacksOff(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var runs []time.Time
	poison := func(ctx engine.Context) error {
		mu.Lock()
		runs = append(runs, time.Now())
		mu.Unlock()
		panic("boom")
	}
	runsSoFar := func() []time.Time { mu.Lock(); defer mu.Unlock(); return append([]time.Time(nil), runs...) }
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Poison", poison))
		registerThreeSteps(w)
	})
	h.start("poison", "q", "Poison", nil)
	h.waitForEvent("poison", engine.EventWorkflowTaskFailed)
	start := time.Now()
	for i := range 20 {
		id := "ok-" + string(rune('a'+i))
		h.start(id, "q", ThreeSteps, order{ID: id})
	}
	for i := range 20 {
		h.mustResult("ok-"+string(rune('a'+i)), nil)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("healthy workflows took %s next to a poison one", d)
	}
	// It is retried, with backoff. The first attempt was the eager start's
	// (the worker of the starting process took the run's first task), and
	// its worker published the task at once, as a delivered task: then
	// 1 s, then 2 s between attempts.
	waitFor(t, "three retries of the poison task", func() bool { return len(runsSoFar()) >= 4 })
	r := runsSoFar()
	if g1, g2 := r[2].Sub(r[1]), r[3].Sub(r[2]); g1 < 900*time.Millisecond || g2 < 1800*time.Millisecond {
		t.Fatalf("poison task retried after %s, %s then %s: want at once, about 1 s then 2 s", r[1].Sub(r[0]), g1, g2)
	}
	x, _ := h.client.Describe(h.ctx, "poison", "")
	if x.TaskFailure == nil || x.TaskFailure.Code != engine.CodeWorkflowPanic || !strings.Contains(x.TaskFailure.Message, "boom") {
		t.Fatalf("poison run not flagged: %+v", x.TaskFailure)
	}
}

// Coroutines, channels, selectors, side effects and versions replay the same.
func TestCoroutinesSelectorsSideEffects(t *testing.T) {
	h := newHarness(t)
	wf := func(ctx engine.Context) ([]string, error) {
		ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
		ch := engine.NewBufferedChannel(ctx, 2)
		done := engine.NewChannel(ctx)
		for _, n := range []string{"x", "y"} {
			engine.Go(ctx, func(ctx engine.Context) {
				var s string
				must(engine.ExecuteActivity(ctx, "A", nil).Get(ctx, &s))
				ch.Send(ctx, n+s)
			})
		}
		engine.Go(ctx, func(ctx engine.Context) { done.Send(ctx, "go-done") })
		var out []string
		for range 2 {
			var s string
			ch.Receive(ctx, &s)
			out = append(out, s)
		}
		var d string
		done.Receive(ctx, &d)
		out = append(out, d)

		timer := engine.NewTimer(ctx, time.Hour)
		sig := engine.GetSignalChannel(ctx, "pick")
		sel := engine.NewSelector(ctx)
		sel.AddFuture(timer, func(engine.Future) { out = append(out, "timer") })
		sel.AddReceive(sig, func(c engine.Channel, more bool) {
			var s string
			c.Receive(ctx, &s)
			out = append(out, "signal:"+s)
		})
		sel.Select(ctx)

		id := engine.NewUUID(ctx)
		var r int
		must(engine.SideEffect(ctx, func() any { return time.Now().UnixNano() % 1000 }).Get(&r))
		v := engine.GetVersion(ctx, "change-1", engine.DefaultVersion, 2)
		out = append(out, strings.Repeat("u", min(1, len(id))), "v"+string(rune('0'+v)))
		must(engine.UpsertSearchAttributes(ctx, map[string]engine.SearchAttribute{"Customer": engine.Keyword("acme"), "Amount": engine.Float(12.5)}))
		return out, nil
	}
	h.worker("q", engine.WorkerOptions{CacheSize: -1}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Co", wf))
		must(w.RegisterActivityWithName("A", step("a")))
	})
	h.start("co", "q", "Co", nil)
	h.waitForEvent("co", engine.EventTimerStarted)
	must(h.client.Signal(h.ctx, "co", "", "pick", "s1"))
	var out []string
	h.mustResult("co", &out)
	// The two activities run concurrently: whichever completed first in
	// history is received first, on every replay (no cache: each task
	// replays the whole history).
	var first []string
	for _, e := range h.history("co") {
		if a, ok := e.Attrs.(*engine.ActivityCompleted); ok {
			first = append(first, map[int64]string{1: "xa", 2: "ya"}[a.Seq])
		}
	}
	want := append(first, "go-done", "signal:s1", "u", "v2")
	if len(first) != 2 || !reflect.DeepEqual(out, want) {
		t.Fatalf("got %v want %v\n%s", out, want, h.dump("co"))
	}
	x, _ := h.client.Describe(h.ctx, "co", "")
	if x.SearchAttributes["Customer"].Value != "acme" {
		t.Fatalf("search attributes %+v", x.SearchAttributes)
	}
}

// FM 1: a signal that lands while the completing workflow task runs is
// either seen by the workflow or refused — never accepted and dropped.
func TestSignalRacingCompletion(t *testing.T) {
	h := newHarness(t)
	wf := func(ctx engine.Context) (int, error) {
		ch := engine.GetSignalChannel(ctx, "s")
		n := 0
		ch.Receive(ctx, nil)
		n++
		for ch.ReceiveAsync(nil) {
			n++
		}
		return n, nil
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Race", wf)) })
	for i := range 10 {
		id := "race-" + string(rune('a'+i))
		h.start(id, "q", "Race", nil)
		accepted := 0
		for range 20 {
			err := h.client.Signal(h.ctx, id, "", "s", nil)
			if err == nil {
				accepted++
			} else if !errors.Is(err, engine.ErrRunClosed) {
				t.Fatal(err)
			}
		}
		var n int
		h.mustResult(id, &n)
		events := h.history(id)
		inHistory := count(events, engine.EventSignalReceived)
		if inHistory != accepted {
			t.Fatalf("%s: %d signals accepted, %d in history", id, accepted, inHistory)
		}
		// every signal recorded before the completing task was seen by the code
		seen := 0
		for _, e := range events {
			if e.Type == engine.EventSignalReceived {
				seen++
			}
			if e.Type == engine.EventWorkflowCompleted {
				break
			}
		}
		if n != seen || n != accepted {
			t.Fatalf("%s: workflow counted %d, %d signals before completion, %d accepted", id, n, seen, accepted)
		}
	}
}

// FM 10: past the history limit the run is terminated with a clear reason,
// and signals are refused.
func TestHistoryLimit(t *testing.T) {
	env := newTestEnv(t, enginetest.WithWorkerOptions(engine.WorkerOptions{HistoryLimit: 60}))
	wf := func(ctx engine.Context) error {
		for i := 0; ; i++ {
			engine.SetProgress(ctx, int64(i), 0)
			if err := engine.Sleep(ctx, time.Minute); err != nil {
				return err
			}
		}
	}
	env.RegisterWorkflowWithName("Grow", wf)
	run := env.Start("Grow", nil)
	err := env.Result(run, nil)
	var we *engine.WorkflowError
	if !errors.As(err, &we) || we.Status != engine.StatusTerminated || !strings.Contains(we.Failure.Message, engine.CodeHistoryTooLarge) {
		t.Fatalf("%v", err)
	}
	if n := len(env.History(run)); n > 70 {
		t.Fatalf("history grew to %d events past a limit of 60", n)
	}
}
