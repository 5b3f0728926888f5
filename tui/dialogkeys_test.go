package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

func terminatedHistory(wf, run string) []engine.Event {
	return []engine.Event{
		{ID: 1, Type: engine.EventWorkflowStarted, Time: testClock.Add(-time.Hour), Attrs: &engine.WorkflowStarted{WorkflowID: wf, RunID: run,
			WorkflowType: "OrderWorkflow", TaskQueue: "orders"}},
		{ID: 2, Type: engine.EventWorkflowTerminated, Time: testClock.Add(-time.Minute), Attrs: &engine.WorkflowTerminated{Reason: "duplicate"}},
	}
}

// Tab walks every stop of the confirm dialog, the action's button included,
// and only Enter on that button acts.
func TestTabReachesTheActionButton(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1002")
	h.press("C")
	h.typeText("customer asked")
	h.press("tab", "tab") // reason → No → Cancel run
	d := h.m.modal.(*confirmDialog)
	if !d.yes {
		t.Fatalf("two tabs from the reason: focus %d, not on the action's button", d.focus)
	}
	h.wantScreenContains("Cancel run", "tab/←/→ move · enter choose")
	h.press("tab") // wraps to the reason
	if d.onButtons() {
		t.Fatal("tab from the action's button did not wrap to the reason")
	}
	h.press("shift+tab") // back onto the action's button
	h.press("enter")
	h.wantCalls(`cancel order-1002 r1002-0b44e810 "customer asked"`)
}

// Letters typed while the buttons have focus (a reason typed in the wrong
// place) never act.
func TestStrayTypingOnTheButtonsDoesNotAct(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1002")
	h.press("C", "enter") // focus on No
	h.typeText("type: y yes n")
	h.press("right")
	h.typeText("y")
	h.wantCalls()
	if _, open := h.m.modal.(*confirmDialog); !open {
		t.Fatalf("stray typing closed the dialog (modal %T)", h.m.modal)
	}
}

// Signal, cancel and terminate on a closed run are refused before a dialog
// opens, and the footer does not offer them.
func TestActionsThatDoNotApplyAreRefusedUpFrontAndHidden(t *testing.T) {
	b := newFixtureBackend()
	b.histories["r0996-beef0003"] = terminatedHistory("order-0996", "r0996-beef0003")
	h := newHarness(t, b, Options{})
	onRun(h, "order-0996") // terminated
	if strings.Contains(h.screen(), "T terminate") || strings.Contains(h.screen(), "s signal") {
		t.Fatalf("footer offers signal/terminate on a terminated run:\n%s", h.screen())
	}
	for _, k := range []string{"C", "T", "s"} {
		h.press(k)
		if h.m.modal != nil {
			t.Fatalf("%s opened %T on a terminated run", k, h.m.modal)
		}
		h.wantScreenContains("order-0996 is terminated")
	}
	// In the run's own view too.
	h.press("enter")
	h.wantScreenContains("terminated")
	if strings.Contains(h.screen(), "C cancel") {
		t.Fatalf("detail footer offers cancel on a terminated run:\n%s", h.screen())
	}
	h.press("C")
	if h.m.modal != nil {
		t.Fatalf("C opened %T on a terminated run", h.m.modal)
	}
	h.wantCalls()
	// A running run still offers them.
	h.press("esc")
	onRun(h, "order-1002")
	h.wantScreenContains("T terminate")
}

func TestCompensateSaysARunningRunIsTerminatedFirst(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1001") // running
	h.press("P")
	h.wantScreenContains("terminated first")
	h.press("esc")
	onRun(h, "order-0997") // failed: nothing to terminate
	h.press("P")
	if strings.Contains(h.screen(), "terminated first") {
		t.Fatal("the warning shows on a closed run")
	}
}
