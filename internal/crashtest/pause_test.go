package crashtest

import (
	"context"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/crashtest/flow"
)

// A pause holds a run across kill -9 of the process that hosts the
// server, the engine and the worker: the timer that falls due while it is
// down and the signal sent before are recorded but run no code; after two
// restarts the run is still paused; unpause resumes it, and each takes
// effect exactly once.
func TestPauseSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: builds crashhost and kills it (skipped under -short)")
	}
	r := newRig(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const id = "pause-1"
	sess := func() session {
		s, err := r.c.get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	history := func() []engine.Event {
		t.Helper()
		events, err := sess().client.History(ctx, id, "")
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		return events
	}
	countOf := func(events []engine.Event, typ engine.EventType) (n int) {
		for _, e := range events {
			if e.Type == typ {
				n++
			}
		}
		return n
	}
	if _, err := sess().client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: flow.Queue}, flow.PauseFlow, flow.CrashInput{ID: id}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the timer started", 30*time.Second, func() bool { return countOf(history(), engine.EventTimerStarted) == 1 })
	if err := sess().client.Pause(ctx, id, "", "crash test"); err != nil {
		t.Fatal(err)
	}
	if err := sess().client.Signal(ctx, id, "", flow.PauseSignal, "sig"); err != nil {
		t.Fatal(err)
	}
	// down while the timer falls due
	k := r.kill("paused, timer pending", "")
	time.Sleep(flow.TimerDuration + 500*time.Millisecond)
	r.restart(k)
	waitUntil(t, "the overdue timer recorded", 30*time.Second, func() bool { return countOf(history(), engine.EventTimerFired) == 1 })
	// and once more: the pause is in history, not in memory
	r.restart(r.kill("paused, timer fired", ""))
	time.Sleep(time.Second)
	events := history()
	x := engine.Summarize(events)
	pausedAt := 0
	for i, e := range events {
		if e.Type == engine.EventWorkflowPaused {
			pausedAt = i
		}
	}
	if x.Paused == nil || x.Paused.By == "" || x.Status != engine.StatusRunning ||
		countOf(events[pausedAt:], engine.EventWorkflowTaskCompleted) != 0 || countOf(events, engine.EventActivityScheduled) != 0 {
		t.Fatalf("after two kills the run should be paused with no code run since:\n%s", dumpHistory(events))
	}
	if err := sess().client.Unpause(ctx, id, "", "crash test over"); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := sess().client.GetResult(ctx, id, "", &out); err != nil {
		t.Fatalf("result: %v\n%s", err, dumpHistory(history()))
	}
	events = history()
	want := flow.StepValue(flow.StepInput{ID: id, Step: 1, Prev: "sig"})
	if out != want || countOf(events, engine.EventTimerFired) != 1 || countOf(events, engine.EventSignalReceived) != 1 ||
		countOf(events, engine.EventActivityScheduled) != 1 || countOf(events, engine.EventActivityCompleted) != 1 {
		t.Fatalf("result %q (want %q); timer, signal and activity once each:\n%s", out, want, dumpHistory(events))
	}
}
