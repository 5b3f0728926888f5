package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/foremanhq/foreman/engine"
)

// counterWorkflow adds up the "add" signals; the "total" query reads it.
func counterWorkflow(ctx engine.Context, _ struct{}) (int, error) {
	total := 0
	if err := engine.SetQueryHandler(ctx, "total", func() (int, error) { return total, nil }); err != nil {
		return 0, err
	}
	ch := engine.GetSignalChannel(ctx, "add")
	for total < 1_000_000 {
		var n int
		ch.Receive(ctx, &n)
		total += n
	}
	return total, nil
}

// A query sent after a signal was acknowledged sees its effect: the
// handler runs on state that includes every input acknowledged before the
// query (FAILURE-MODES 17). Before, the query applied history without
// running workflow code, so most answers missed the last signal.
func TestQueryAfterSignalSeesIt(t *testing.T) {
	h := newHarness(t)
	h.worker("counter", engine.WorkerOptions{}, func(w *engine.Worker) { w.RegisterWorkflow(counterWorkflow) })
	h.start("counter-1", "counter", counterWorkflow, struct{}{})
	// Straight after the start too: the handler exists only once the
	// code has run its first task.
	for i := 1; i <= 40; i++ {
		if err := h.client.Signal(h.ctx, "counter-1", "", "add", 1); err != nil {
			t.Fatal(err)
		}
		raw, err := h.client.Query(h.ctx, "counter-1", "", "total", nil)
		if err != nil {
			t.Fatalf("query after signal %d: %v", i, err)
		}
		var got int
		if err := json.Unmarshal(raw, &got); err != nil || got != i {
			t.Fatalf("query after %d acknowledged signals answered %s (%v)", i, raw, err)
		}
	}
}

// poisonAfterSignal fails its workflow task as soon as it sees a signal.
func poisonAfterSignal(ctx engine.Context, _ struct{}) (int, error) {
	_ = engine.SetQueryHandler(ctx, "seen", func() (bool, error) { return false, nil })
	engine.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	panic("poisoned")
}

// When the workflow task cannot process an acknowledged input, a query
// refuses rather than answer from before it; __stack still answers at once,
// since operators ask it precisely of runs that do not progress.
func TestQueryRefusesStaleStateButStackAnswers(t *testing.T) {
	h := newHarness(t)
	h.worker("poison", engine.WorkerOptions{}, func(w *engine.Worker) { w.RegisterWorkflow(poisonAfterSignal) })
	h.start("poison-q", "poison", poisonAfterSignal, struct{}{})
	if _, err := h.client.Query(h.ctx, "poison-q", "", "seen", nil); err != nil {
		t.Fatalf("query before the signal: %v", err)
	}
	if err := h.client.Signal(h.ctx, "poison-q", "", "go", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Query(h.ctx, "poison-q", "", engine.QueryStack, nil); err != nil {
		t.Fatalf("__stack of a run whose task fails: %v", err)
	}
	_, err := h.client.Query(h.ctx, "poison-q", "", "seen", nil)
	if err == nil || !strings.Contains(err.Error(), "has not processed") {
		t.Fatalf("query of a run that cannot process its signal: %v, want a refusal", err)
	}
}

// __handlers lists the run's own query handlers and the signal names its
// code listens on, before any of them was used, so a console can offer
// them up front (issue 19, finding 8). A signal nobody asked for is not a
// name the workflow listens on; a handler set at a later step appears from
// that step on; a closed run still answers from its replayed history.
func TestQueryHandlersListsWhatTheCodeRegistered(t *testing.T) {
	h := newHarness(t)
	wf := func(ctx engine.Context) (int, error) {
		n := 0
		must(engine.SetQueryHandler(ctx, "count", func() (int, error) { return n, nil }))
		engine.GetSignalChannel(ctx, "inc").Receive(ctx, nil)
		n++
		must(engine.SetQueryHandler(ctx, "done", func() (bool, error) { return true, nil }))
		engine.GetSignalChannel(ctx, "finish").Receive(ctx, nil)
		return n, nil
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Steps", wf)) })
	h.start("s", "q", "Steps", nil)
	handlers := func() engine.Handlers {
		t.Helper()
		raw, err := h.client.Query(h.ctx, "s", "", engine.QueryHandlers, nil)
		if err != nil {
			t.Fatalf("__handlers: %v", err)
		}
		var got engine.Handlers
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("__handlers answered %s: %v", raw, err)
		}
		return got
	}
	want := func(got engine.Handlers, queries, signals string) bool {
		return strings.Join(got.Queries, ",") == queries && strings.Join(got.Signals, ",") == signals
	}
	waitFor(t, "first step's handlers", func() bool { return want(handlers(), "count", "inc") })
	must(h.client.Signal(h.ctx, "s", "", "bogus", nil)) // buffered, never asked for
	must(h.client.Signal(h.ctx, "s", "", "inc", nil))
	waitFor(t, "second step's handlers", func() bool { return want(handlers(), "count,done", "finish,inc") })
	must(h.client.Signal(h.ctx, "s", "", "finish", nil))
	var n int
	h.mustResult("s", &n)
	if got := handlers(); !want(got, "count,done", "finish,inc") {
		t.Fatalf("closed run: %+v", got)
	}
	_, err := h.client.Query(h.ctx, "s", "", "nope", nil)
	if err == nil || !strings.Contains(err.Error(), engine.QueryHandlers) {
		t.Fatalf("the unknown-query error lists the built-ins: %v", err)
	}
}
