package metrics

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// gauge gathers c and returns the value of name (-1: not exported).
func gauge(t *testing.T, c *Collector, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// The dead-letter gauge counts what the index search answers, at most
// every few seconds; an index without the field counts 0 without error.
func TestDeadLetteredGauge(t *testing.T) {
	c := New(nil, nil)
	if v := gauge(t, c, MetricDeadLettered); v != -1 {
		t.Fatalf("gauge %v without a count bound, want none", v)
	}
	calls, answer, fail := 0, uint64(3), error(nil)
	c.BindCounts(func(_ context.Context, q string) (uint64, error) {
		calls++
		if q != DeadLetteredQuery {
			t.Errorf("query %q", q)
		}
		return answer, fail
	})
	if v := gauge(t, c, MetricDeadLettered); v != 3 {
		t.Fatalf("gauge %v, want 3", v)
	}
	answer = 5
	if v := gauge(t, c, MetricDeadLettered); v != 3 || calls != 1 {
		t.Fatalf("gauge %v after %d searches, want the cached 3 after 1", v, calls)
	}
	c = New(nil, nil)
	fail = errors.New(`at 0: unknown field "dead_lettered"`)
	c.BindCounts(func(context.Context, string) (uint64, error) { return 7, fail })
	if v := gauge(t, c, MetricDeadLettered); v != 0 {
		t.Fatalf("gauge %v on an index without the field, want 0", v)
	}
}
