package engine_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

func napWorkflow(ctx engine.Context, d time.Duration) (string, error) {
	if err := engine.Sleep(ctx, d); err != nil {
		return "", err
	}
	return "rested", nil
}

// Time is the server's (FAILURE-MODES 18): over the JetStream store, the
// times a worker writes are the server's clock as the store reads it off
// what the server stamps, so a timer's due time is the server time of the
// task that started it plus its duration, it fires by the server's
// stamps no earlier than due and within the timer service's resolution,
// and history has no negative gaps.
func TestTimesComeFromTheServerClock(t *testing.T) {
	h := newHarness(t)
	if h.store.EngineClock() == nil {
		t.Fatal("the JetStream store hands the engine no clock")
	}
	h.worker("nap", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflow(napWorkflow)) })
	run := h.start("nap-1", "nap", napWorkflow, 400*time.Millisecond)
	var out string
	h.mustResult("nap-1", &out)
	batches, err := h.store.ReadHistory(h.ctx, run.RunID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fireAt, firedStored, startedStored, taskTime time.Time
	var prev time.Time
	for _, sb := range batches {
		var b engine.Batch
		if err := json.Unmarshal(sb.Data, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Events {
			if e.Time.Before(prev) {
				t.Fatalf("event %d (%s) at %s is before the previous event at %s", e.ID, e.Type, e.Time, prev)
			}
			if e.Time.After(sb.Time) {
				t.Fatalf("event %d (%s) is dated %s, after the server stored it (%s)", e.ID, e.Type, e.Time, sb.Time)
			}
			prev = e.Time
			switch a := e.Attrs.(type) {
			case *engine.TimerStarted:
				fireAt, startedStored, taskTime = a.FireAt, sb.Time, b.TaskTime
			case *engine.TimerFired:
				firedStored = sb.Time
			}
		}
	}
	if lag := startedStored.Sub(taskTime); lag < 0 || lag > 100*time.Millisecond {
		t.Fatalf("the task that started the timer is dated %s, the server stored it %s later", taskTime, lag)
	}
	if !fireAt.Equal(taskTime.Add(400 * time.Millisecond)) {
		t.Fatalf("timer due %s, want its task's time %s + 400ms", fireAt, taskTime)
	}
	if late := firedStored.Sub(fireAt); late < 0 || late > 250*time.Millisecond {
		t.Fatalf("timer due %s was recorded by the server at %s (%s)", fireAt, firedStored, late)
	}
}
