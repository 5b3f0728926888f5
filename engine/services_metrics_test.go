package engine_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/foremanhq/foreman/engine"
)

// series returns the metric of family name whose labels include want.
func series(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return m
		}
	}
	return &dto.Metric{}
}

// The services' metrics: a sleep's timer fires once, a little after its
// due time, and is observed as such; the engine's task publishes are
// observed through the store.
func TestServicesMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarnessWith(t, engine.ServicesOptions{MetricsRegisterer: reg})
	sleeper := func(ctx engine.Context) error { return engine.Sleep(ctx, 300*time.Millisecond) }
	h.worker("sleepers", engine.WorkerOptions{DisableLocalHandoffs: true}, func(w *engine.Worker) { _ = w.RegisterWorkflowWithName("Sleeper", sleeper) })
	h.start("s-1", "sleepers", "Sleeper", nil)
	h.mustResult("s-1", nil)

	late := series(t, reg, engine.MetricTimerLateness, map[string]string{"kind": "timer"}).GetHistogram()
	if late.GetSampleCount() != 1 {
		t.Fatalf("timer lateness observed %d times, want 1 (one sleep)", late.GetSampleCount())
	}
	if s := late.GetSampleSum(); s < 0 || s > 2 {
		t.Errorf("timer fired %.3fs late, want within 2 s", s)
	}
	if n := series(t, reg, engine.MetricTimerLateness, map[string]string{"kind": "heartbeat"}).GetHistogram().GetSampleCount(); n != 0 {
		t.Errorf("heartbeat deadlines observed %d, want 0", n)
	}
	// The dispatcher published the start's workflow task (no eager start:
	// its worker takes none from clients here) and the timer
	// fired one (the worker shares the store: its publishes count too).
	if n := series(t, reg, engine.MetricStorePublish, map[string]string{"op": "task"}).GetHistogram().GetSampleCount(); n < 2 {
		t.Errorf("task publishes observed %d, want 2 or more", n)
	}
}
