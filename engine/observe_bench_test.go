package engine

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/foremanhq/foreman/engine/internal/clock"
)

// fakeDelivery is a first delivery the store stamped a millisecond ago.
type fakeDelivery struct{ stored time.Time }

func (d fakeDelivery) Data() []byte              { return nil }
func (d fakeDelivery) NumDelivered() uint64      { return 1 }
func (d fakeDelivery) Ack(context.Context) error { return nil }
func (d fakeDelivery) Nak(time.Duration) error   { return nil }
func (d fakeDelivery) InProgress() error         { return nil }
func (d fakeDelivery) AckWait() time.Duration    { return time.Minute }
func (d fakeDelivery) Stored() time.Time         { return d.stored }

// What metrics add to each task a worker handles (measured), off and on:
// the README's overhead figure multiplies it by the tasks of a workflow.
func BenchmarkMeasuredTask(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			w := &Worker{queue: "q", clock: clock.Wall}
			if on {
				m, err := newWorkerMetrics(prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				w.metrics = m
			}
			h := w.measured(ActivityTaskKind, 8, func(context.Context, Delivery) {})
			d := fakeDelivery{stored: time.Now().Add(-time.Millisecond)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				h(ctx, d)
			}
		})
	}
}

// With tracing off a worker's and a client's tracer is nil, and the
// places that would trace do nothing else: no allocation.
func TestTracingOffAllocatesNothing(t *testing.T) {
	w := &Worker{tracer: newTracer(nil)}
	if w.tracer != nil {
		t.Fatal("a nil provider made a tracer")
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		if traceparentOf(ctx) != "" {
			t.Fatal("a traceparent without a span")
		}
	}); n != 0 {
		t.Errorf("traceparentOf without a span: %v allocations, want 0", n)
	}
}
