package pulse

import (
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Events count in the second of their event time; events older than the
// window (an index rebuild replaying old history) count nowhere.
func TestCountersByEventTime(t *testing.T) {
	now := time.Unix(1_000_000, 500_000_000)
	c := NewCounters(func() time.Time { return now })
	start := now.Add(-3 * time.Second)
	c.Observe(time.Time{}, []engine.Event{
		{Type: engine.EventWorkflowStarted, Time: start},
		{Type: engine.EventActivityAttemptFailed, Time: now.Add(-2 * time.Second)},
		{Type: engine.EventWorkflowCompleted, Time: now.Add(-time.Second), Attrs: &engine.WorkflowCompleted{}},
	})
	c.Observe(time.Time{}, []engine.Event{{Type: engine.EventWorkflowStarted, Time: now.Add(-time.Hour)}})
	c.Observe(now.Add(-2*time.Second), []engine.Event{{Type: engine.EventWorkflowFailed, Time: now.Add(-time.Second), Attrs: &engine.WorkflowFailed{}}})
	s := c.Series(4)
	if want := []uint32{0, 1, 0, 0}; !equal(s.Started, want) {
		t.Fatalf("started %v, want %v", s.Started, want)
	}
	if want := []uint32{0, 0, 0, 1}; !equal(s.Completed, want) || !equal(s.Failed, want) {
		t.Fatalf("completed %v failed %v, want %v", s.Completed, s.Failed, want)
	}
	if want := []uint32{0, 0, 1, 0}; !equal(s.ActivityFailures, want) {
		t.Fatalf("activity failures %v, want %v", s.ActivityFailures, want)
	}
	dur, _, _ := c.Latencies(time.Minute)
	if dur.Count() != 2 {
		t.Fatalf("%d durations, want 2", dur.Count())
	}
	if tot := c.Totals(); tot.Started != 1 || tot.Closed[engine.StatusCompleted] != 1 || tot.Closed[engine.StatusFailed] != 1 {
		t.Fatalf("totals %+v", tot)
	}
}

func equal(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
