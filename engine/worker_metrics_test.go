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
	w1 := h.worker("metrics-a", engine.WorkerOptions{MetricsRegisterer: reg, MaxConcurrentActivities: 5, DisableLocalHandoffs: true}, register)
	w2 := h.worker("metrics-b", engine.WorkerOptions{MetricsRegisterer: reg, MaxConcurrentActivities: 3}, register)
	h.start("m-1", "metrics-a", metricsWF, nil)
	var out string
	h.mustResult("m-1", &out)

	count := func(name, queue, kind string) float64 {
		t.Helper()
		want := map[string]string{"queue": queue}
		if kind != "" {
			want["kind"] = kind
		}
		m := series(t, reg, name, want)
		if hs := m.GetHistogram(); hs != nil {
			return float64(hs.GetSampleCount())
		}
		return m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	// The run closes inside the activity's handler (its outcome is
	// handed to the run here), before the handler returns and is counted.
	for deadline := time.Now().Add(5 * time.Second); count(engine.MetricWorkerTaskDuration, "metrics-a", "activity") == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	// The attempt runs eagerly; a guard task, if the dispatcher stored
	// one, would not count: the attempt counts once. A guard may arrive
	// after the attempt ended: give it time to be (wrongly) counted.
	time.Sleep(200 * time.Millisecond)
	// The run's history is observed once, as its last workflow task
	// closed it; metrics-b ran nothing; the slots add up per queue.
	for _, c := range []struct {
		name, queue, kind string
		want              float64
	}{
		{engine.MetricWorkerTaskDuration, "metrics-a", "activity", 1},
		{engine.MetricWorkerTasks, "metrics-a", "activity", 1},
		{engine.MetricWorkerScheduleToStart, "metrics-a", "activity", 1},
		{engine.MetricWorkerHistoryEvents, "metrics-a", "", 1},
		{engine.MetricWorkerHistoryBytes, "metrics-a", "", 1},
		{engine.MetricWorkerTaskDuration, "metrics-b", "activity", 0},
		{engine.MetricWorkerSlots, "metrics-a", "activity", 5},
		{engine.MetricWorkerSlots, "metrics-b", "activity", 3},
		{engine.MetricWorkerSlotsInUse, "metrics-a", "activity", 0},
	} {
		if n := count(c.name, c.queue, c.kind); n != c.want {
			t.Errorf("%s on %s %s: %v, want %v", c.name, c.queue, c.kind, n, c.want)
		}
	}
	if n := count(engine.MetricWorkerTaskDuration, "metrics-a", "workflow"); n < 2 {
		t.Errorf("workflow task durations on metrics-a: %v, want 2 or more", n)
	}
	publishes := map[string]uint64{}
	for _, op := range []string{"history", "task"} {
		publishes[op] = series(t, reg, engine.MetricStorePublish, map[string]string{"op": op}).GetHistogram().GetSampleCount()
	}
	if publishes["history"] < 2 || publishes["task"] < 1 {
		t.Errorf("JetStream publishes observed %v, want the workflow tasks' appends and the tasks", publishes)
	}
	w1.Stop()
	w2.Stop()
	if n := count(engine.MetricWorkerSlots, "metrics-a", "activity"); n != 0 {
		t.Errorf("activity slots on metrics-a after Stop %v, want 0", n)
	}
}
