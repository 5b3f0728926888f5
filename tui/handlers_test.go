package tui

import (
	"strings"
	"testing"

	"github.com/foremanhq/foreman/engine"
)

// TestQueryTabListsTheWorkflowsHandlersUpFront: the Query tab offers the
// run's own handlers (the __handlers built-in) before any was used, and tab
// completes them (issue 19, finding 8: only __stack and __pending were
// listed until a handler had been used).
func TestQueryTabListsTheWorkflowsHandlersUpFront(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1001")
	h.press("enter", "5")
	h.wantScreenContains("this workflow's: status, totals", "built-in: __stack, __pending, __handlers")
	h.press("enter") // edit
	h.typeText("to")
	h.press("tab")
	if got := h.detail().query.name.value(); got != "totals" {
		t.Fatalf("tab completed %q", got)
	}
}

// TestQueryTabSaysWhyHandlersAreMissing: with no worker to answer, the
// built-ins are offered and the tab says why the workflow's own are not.
func TestQueryTabSaysWhyHandlersAreMissing(t *testing.T) {
	b := newFixtureBackend()
	delete(b.answers, engine.QueryHandlers)
	h := newHarness(t, b, Options{})
	onRun(h, "order-1001")
	h.press("enter", "5")
	h.wantScreenContains("built-in: __stack, __pending, __handlers", "no worker listed this workflow's query handlers")
}

// TestSignalDialogOffersTheSignalsTheRunListensOn: from the list too, the
// signal dialog asks which names the run's code listens on and tab
// completes them.
func TestSignalDialogOffersTheSignalsTheRunListensOn(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.resize(120, 40)
	onRun(h, "onboard-alice")
	h.press("s")
	h.wantScreenContains("listens on: address-changed, laptop-delivered")
	h.typeText("la")
	h.press("tab")
	d := h.m.modal.(*signalDialog)
	if got := d.name.value(); got != "laptop-delivered" {
		t.Fatalf("tab completed %q", got)
	}
	if !strings.Contains(h.screen(), "laptop-delivered") {
		t.Fatal("name not shown")
	}
}
