package engine_test

import (
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/prometheus/client_golang/prometheus"
)

func metricsWF(ctx engine.Context) (string, error) {
	var out string
	err := engine.ExecuteActivity(ctx, announceAct, "x").Get(ctx, &out)
	return out, err
}

// Two workers of a process share a registry (one per queue here, the same
// series names): both register, a run's workflow tasks and activity are
// observed under its queue, and the slots of both add up and leave with
// Stop.
func TestWorkerMetrics(t *testing.T) {
	h := newHarness(t)
	reg := prometheus.NewRegistry()
	register := func(w *engine.Worker) {
		_ = w.RegisterWorkflow(metricsWF)
		_ = w.RegisterActivity(announceAct)
	}
	w1 := h.worker("metrics-a", engine.WorkerOptions{MetricsRegisterer: reg, MaxConcurrentActivities: 5}, register)
	w2 := h.worker("metrics-b", engine.WorkerOptions{MetricsRegisterer: reg, MaxConcurrentActivities: 3}, register)
	h.start("m-1", "metrics-a", metricsWF, nil)
	var out string
	h.mustResult("m-1", &out)

	count := func(name string, labels ...string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				got := map[string]string{}
				for _, l := range m.GetLabel() {
					got[l.GetName()] = l.GetValue()
				}
				if got["queue"] != labels[0] || got["kind"] != labels[1] {
					continue
				}
				if hs := m.GetHistogram(); hs != nil {
					return float64(hs.GetSampleCount())
				}
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
		return 0
	}
	// The run closes inside the activity's handler (its outcome is
	// handed to the run here), before the handler returns and is counted.
	for deadline := time.Now().Add(5 * time.Second); count(engine.MetricWorkerTaskDuration, "metrics-a", "activity") == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	// The attempt runs eagerly and its guard task is delivered too: the
	// attempt counts once, the guard not at all. The guard may arrive
	// after the attempt ended: give it time to be (wrongly) counted.
	time.Sleep(200 * time.Millisecond)
	if n := count(engine.MetricWorkerTaskDuration, "metrics-a", "activity"); n != 1 {
		t.Errorf("activity durations on metrics-a: %v, want 1", n)
	}
	if n := count(engine.MetricWorkerTasks, "metrics-a", "activity"); n != 1 {
		t.Errorf("activity tasks on metrics-a: %v, want 1", n)
	}
	if n := count(engine.MetricWorkerTaskDuration, "metrics-a", "workflow"); n < 2 {
		t.Errorf("workflow task durations on metrics-a: %v, want 2 or more", n)
	}
	if n := count(engine.MetricWorkerScheduleToStart, "metrics-a", "activity"); n != 1 {
		t.Errorf("activity schedule-to-start on metrics-a: %v, want 1", n)
	}
	// The run's history as its last workflow task closed it: 1 run, of
	// some events and bytes; the store's appends and task publishes.
	if n := count(engine.MetricWorkerHistoryEvents, "metrics-a", ""); n != 1 {
		t.Errorf("history sizes observed on metrics-a: %v, want 1", n)
	}
	if n := count(engine.MetricWorkerHistoryBytes, "metrics-a", ""); n != 1 {
		t.Errorf("history byte sizes observed on metrics-a: %v, want 1", n)
	}
	publishes := map[string]uint64{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == engine.MetricStorePublish {
			for _, m := range mf.GetMetric() {
				publishes[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	if publishes["history"] < 2 || publishes["task"] < 1 {
		t.Errorf("JetStream publishes observed %v, want the workflow tasks' appends and the tasks", publishes)
	}
	if n := count(engine.MetricWorkerTaskDuration, "metrics-b", "activity"); n != 0 {
		t.Errorf("activity durations on metrics-b: %v, want 0", n)
	}
	if n := count(engine.MetricWorkerSlots, "metrics-a", "activity"); n != 5 {
		t.Errorf("activity slots on metrics-a %v, want 5", n)
	}
	if n := count(engine.MetricWorkerSlots, "metrics-b", "activity"); n != 3 {
		t.Errorf("activity slots on metrics-b %v, want 3", n)
	}
	if n := count(engine.MetricWorkerSlotsInUse, "metrics-a", "activity"); n != 0 {
		t.Errorf("activity slots in use after the run %v, want 0", n)
	}
	w1.Stop()
	w2.Stop()
	if n := count(engine.MetricWorkerSlots, "metrics-a", "activity"); n != 0 {
		t.Errorf("activity slots on metrics-a after Stop %v, want 0", n)
	}
}
