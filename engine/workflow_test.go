package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/enginetest"
)

type order struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

func Reserve(ctx context.Context, o order) (string, error) { return "res-" + o.ID, nil }
func Charge(ctx context.Context, o order) (string, error) {
	return fmt.Sprintf("pay-%s-%d", o.ID, o.Amount), nil
}
func Ship(ctx context.Context, o order) (string, error) { return "ship-" + o.ID, nil }

// ThreeSteps runs three activities and a timer, and reports progress.
func ThreeSteps(ctx engine.Context, o order) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var parts []string
	for i, step := range []any{Reserve, Charge, Ship} {
		engine.SetStatus(ctx, fmt.Sprintf("step %d", i+1))
		var s string
		if err := engine.ExecuteActivity(ctx, step, o).Get(ctx, &s); err != nil {
			return "", err
		}
		parts = append(parts, s)
		engine.SetProgress(ctx, int64(i+1), 3)
	}
	if err := engine.Sleep(ctx, 50*time.Millisecond); err != nil {
		return "", err
	}
	return strings.Join(parts, ","), nil
}

func registerThreeSteps(w *engine.Worker) {
	must(w.RegisterWorkflow(ThreeSteps))
	must(w.RegisterActivity(Reserve))
	must(w.RegisterActivity(Charge))
	must(w.RegisterActivity(Ship))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// threeStepsEnv is a test environment (on the test clock) running ThreeSteps.
func threeStepsEnv(t *testing.T) *enginetest.Env {
	t.Helper()
	env := newTestEnv(t)
	env.RegisterWorkflow(ThreeSteps)
	for _, a := range []any{Reserve, Charge, Ship} {
		env.RegisterActivity(a)
	}
	return env
}

func TestActivitiesAndTimerComplete(t *testing.T) {
	env := threeStepsEnv(t)
	run := env.Start(ThreeSteps, order{ID: "1", Amount: 42})
	var res string
	must(env.Result(run, &res))
	if want := "res-1,pay-1-42,ship-1"; res != want {
		t.Fatalf("result %q, want %q", res, want)
	}
	events := env.History(run)
	checkHistory(t, events)
	if d := eventTime(t, events, engine.EventTimerFired).Sub(eventTime(t, events, engine.EventTimerStarted)); d != 50*time.Millisecond {
		t.Fatalf("the 50ms timer fired after %s", d)
	}
	want := []engine.EventType{
		engine.EventWorkflowStarted,
		engine.EventStatusSet, engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
		engine.EventActivityCompleted, engine.EventProgressSet, engine.EventStatusSet, engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
		engine.EventActivityCompleted, engine.EventProgressSet, engine.EventStatusSet, engine.EventActivityScheduled, engine.EventWorkflowTaskCompleted,
		engine.EventActivityCompleted, engine.EventProgressSet, engine.EventTimerStarted, engine.EventWorkflowTaskCompleted,
		engine.EventTimerFired, engine.EventWorkflowCompleted, engine.EventWorkflowTaskCompleted,
	}
	if got := types(events); !reflect.DeepEqual(got, want) {
		t.Fatalf("history types:\n got %v\nwant %v", got, want)
	}
	x, err := env.Client().Describe(env.Context(), run.WorkflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != engine.StatusCompleted || x.StatusLine != "step 3" || x.Progress == nil || x.Progress.Done != 3 || x.Type != "ThreeSteps" {
		t.Fatalf("describe: %+v", x)
	}
}

// Replay equivalence: with no cache every task replays the whole history;
// the result and the history must be identical to a cached run.
func TestReplayEquivalence(t *testing.T) {
	env := newTestEnv(t)
	for q, opts := range map[string]engine.WorkerOptions{"cached": {}, "replay": {CacheSize: -1}} {
		opts.Logger = quietLogger()
		w := engine.NewWorker(env.Store(), q, opts)
		registerThreeSteps(w)
		must(w.Start(env.Context()))
		t.Cleanup(w.Stop)
	}
	a := env.StartWithOptions(engine.StartOptions{ID: "a", TaskQueue: "cached"}, ThreeSteps, order{ID: "x", Amount: 7})
	b := env.StartWithOptions(engine.StartOptions{ID: "b", TaskQueue: "replay"}, ThreeSteps, order{ID: "x", Amount: 7})
	var ra, rb string
	must(env.Result(a, &ra))
	must(env.Result(b, &rb))
	if ra != rb {
		t.Fatalf("cached result %q != replayed result %q", ra, rb)
	}
	ta, tb := types(env.History(a)), types(env.History(b))
	if !reflect.DeepEqual(ta, tb) {
		t.Fatalf("histories differ:\n%v\n%v", ta, tb)
	}
}

// A workflow resumed from history by a fresh worker (after the first one
// stopped mid-run) finishes with the same result.
func TestResumeInFreshWorker(t *testing.T) {
	h := newHarness(t)
	gate := make(chan struct{})
	var calls atomic.Int32
	slow := func(ctx context.Context, o order) (string, error) {
		calls.Add(1)
		<-gate
		return "slow-" + o.ID, nil
	}
	wf := func(ctx engine.Context, o order) (string, error) {
		var a, b string
		if err := engine.ExecuteActivity(ctx, Reserve, o).Get(ctx, &a); err != nil {
			return "", err
		}
		if err := engine.ExecuteActivity(ctx, "Slow", o).Get(ctx, &b); err != nil {
			return "", err
		}
		return a + "+" + b, nil
	}
	w1 := h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Resumable", wf))
		must(w.RegisterActivity(Reserve))
	})
	h.start("r", "q", "Resumable", order{ID: "7"})
	h.waitForEvent("r", engine.EventActivityCompleted)
	w1.Stop()
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Resumable", wf))
		must(w.RegisterActivityWithName("Slow", slow))
	})
	close(gate)
	var res string
	h.mustResult("r", &res)
	if res != "res-7+slow-7" {
		t.Fatalf("result %q", res)
	}
	checkHistory(t, h.history("r"))
}

// Signals sent before the workflow asks for them are buffered, in order.
func TestSignalsBeforeReceiveAreKept(t *testing.T) {
	h := newHarness(t)
	wf := func(ctx engine.Context) ([]string, error) {
		// Items are sent before "go", so they all arrive before the code
		// first asks for their channel.
		engine.GetSignalChannel(ctx, "go").Receive(ctx, nil)
		ch := engine.GetSignalChannel(ctx, "item")
		var got []string
		for len(got) < 3 {
			var s string
			ch.Receive(ctx, &s)
			got = append(got, s)
		}
		return got, nil
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Collect", wf)) })
	h.start("s", "q", "Collect", nil)
	for _, s := range []string{"a", "b", "c"} {
		if err := h.client.Signal(h.ctx, "s", "", "item", s); err != nil {
			t.Fatal(err)
		}
	}
	must(h.client.Signal(h.ctx, "s", "", "go", nil))
	var got []string
	h.mustResult("s", &got)
	if !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("got %v", got)
	}
	events := h.history("s")
	if n := count(events, engine.EventSignalReceived); n != 4 {
		t.Fatalf("%d signals in history", n)
	}
	// FM 3: a signal to a closed run is refused, and does not change it.
	err := h.client.Signal(h.ctx, "s", "", "item", "late")
	if !errors.Is(err, engine.ErrRunClosed) {
		t.Fatalf("signal to completed run: %v, want ErrRunClosed", err)
	}
	if after := h.history("s"); len(after) != len(events) {
		t.Fatalf("history changed after refused signal")
	}
	if x, _ := h.client.Describe(h.ctx, "s", ""); x.Status != engine.StatusCompleted {
		t.Fatalf("status %s after late signal", x.Status)
	}
}

// Queries answer from current state, and __stack says what the code waits on.
func TestQueryAndStack(t *testing.T) {
	h := newHarness(t)
	wf := func(ctx engine.Context) (int, error) {
		n := 0
		must(engine.SetQueryHandler(ctx, "count", func() (int, error) { return n, nil }))
		must(engine.SetQueryHandler(ctx, "plus", func(k int) (int, error) { return n + k, nil }))
		ch := engine.GetSignalChannel(ctx, "inc")
		for n < 3 {
			ch.Receive(ctx, nil)
			n++
		}
		return n, nil
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Counter", wf)) })
	h.start("c", "q", "Counter", nil)
	must(h.client.Signal(h.ctx, "c", "", "inc", nil))
	must(h.client.Signal(h.ctx, "c", "", "inc", nil))
	waitFor(t, "count 2", func() bool {
		res, err := h.client.Query(h.ctx, "c", "", "count", nil)
		return err == nil && string(res) == "2"
	})
	res, err := h.client.Query(h.ctx, "c", "", "plus", 40)
	if err != nil || string(res) != "42" {
		t.Fatalf("plus: %s %v", res, err)
	}
	stack, err := h.client.Query(h.ctx, "c", "", engine.QueryStack, nil)
	if err != nil || !strings.Contains(string(stack), "receive on signal inc") {
		t.Fatalf("__stack: %s %v", stack, err)
	}
	_, err = h.client.Query(h.ctx, "c", "", "nope", nil)
	if !errors.Is(err, engine.ErrUnknownQuery) || strings.Count(err.Error(), "unknown query") != 1 || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown query: %v", err)
	}
	must(h.client.Signal(h.ctx, "c", "", "inc", nil))
	var n int
	h.mustResult("c", &n)
	if n != 3 {
		t.Fatalf("n=%d", n)
	}
}
