package engine_test

import (
	"testing"

	"github.com/foremanhq/foreman/engine"
)

// A signal whose payload does not fit the workflow's type must not wedge
// the run (a panic would recur on every replay): the value is zero and the
// workflow goes on to the next signal.
func TestMisshapenSignalPayloadDoesNotWedge(t *testing.T) {
	h := newHarness(t)
	type order struct {
		Qty int `json:"qty"`
	}
	wf := func(ctx engine.Context, _ int) (int, error) {
		ch := engine.GetSignalChannel(ctx, "order")
		total := 0
		for range 2 {
			var o order
			ch.Receive(ctx, &o)
			total += o.Qty
		}
		return total, nil
	}
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Orders", wf)) })
	h.start("orders-1", "q", "Orders", 0)
	must(h.client.Signal(h.ctx, "orders-1", "", "order", "three please")) // a string, not an object
	must(h.client.Signal(h.ctx, "orders-1", "", "order", order{Qty: 5}))
	var total int
	h.mustResult("orders-1", &total)
	if total != 5 {
		t.Fatalf("total %d, want 5 (the misshapen payload counts as zero)", total)
	}
	if n := count(h.history("orders-1"), engine.EventWorkflowTaskFailed); n != 0 {
		t.Fatalf("%d workflow task failures", n)
	}
}
