package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// After compensate, the run's view shows what the compensation did without
// ctrl+r, though the run was already closed.
func TestDetailShowsTheRunAfterCompensate(t *testing.T) {
	b := newFixtureBackend()
	const run = "r0996-beef0003"
	b.histories[run] = terminatedHistory("order-0996", run)
	b.plans[run] = []CompensationStep{{EventID: 1, Activity: "ReleaseStock", State: "pending"}}
	h := newHarness(t, b, Options{})
	onRun(h, "order-0996")
	h.press("enter", "6") // the Compensation tab
	h.wantScreenContains("terminated", "pending")
	h.press("P")
	h.typeText("order cancelled")
	h.press("enter")
	h.typeText("order-0996")
	// What the engine has once the compensation ran.
	b.mu.Lock()
	b.histories[run] = append(b.histories[run], engine.Event{ID: 3, Type: engine.EventRunCompensated, Time: testClock,
		Attrs: &engine.RunCompensated{}})
	b.plans[run] = []CompensationStep{{EventID: 1, Activity: "ReleaseStock", State: "completed"}}
	b.mu.Unlock()
	h.press("enter")
	h.wantCalls(`compensate order-0996 r0996-beef0003 "order cancelled"`)
	h.wantScreenContains("compensated", "completed")
	if strings.Contains(h.screen(), "pending") {
		t.Fatalf("the plan still shows a pending step after compensate:\n%s", h.screen())
	}
}

// A run closed from outside does not go on saying what it was doing.
func TestAClosedRunsStatusLineIsNotShownAsCurrent(t *testing.T) {
	cx := cellCtx{st: &newHarness(t, newFixtureBackend(), Options{}).m.st, now: testClock, plain: true}
	d := searchapi.Doc{Status: engine.StatusTerminated, StatusLine: "waiting for a manager", StartTime: testClock.Add(-time.Hour)}
	if got := colStatusLine.cell(cx, &d, 40); !strings.Contains(got, "last: waiting for a manager") {
		t.Fatalf("terminated run's status line cell %q", got)
	}
	d.Status = engine.StatusRunning
	if got := colStatusLine.cell(cx, &d, 40); strings.Contains(got, "last:") {
		t.Fatalf("running run's status line cell %q", got)
	}
}

// An error on the footer goes once the operator's next action succeeds.
func TestErrorFlashGoesAfterTheNextSuccess(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	onRun(h, "order-0996")
	h.press("C") // refused: terminated
	h.wantScreenContains("✗ cancel: order-0996 is terminated")
	// A batch over two marked running runs succeeds.
	onRun(h, "order-1001")
	h.press("space")
	onRun(h, "order-1002")
	h.press("space", "C")
	h.typeText("dup")
	h.press("tab")
	h.typeText("2")
	h.press("enter")
	if _, ok := h.m.modal.(*batchDialog); !ok {
		t.Fatalf("no batch dialog: %T", h.m.modal)
	}
	h.press("enter")
	if strings.Contains(h.screen(), "order-0996 is terminated") {
		t.Fatalf("the error stays after a successful batch:\n%s", h.screen())
	}
	// A search that works after one that failed.
	h.m.flash = flash{seq: 99, text: "search: broken", err: true}
	h.press("/")
	h.typeText("type:OrderWorkflow")
	h.press("enter")
	if strings.Contains(h.screen(), "search: broken") {
		t.Fatalf("the error stays after a successful search:\n%s", h.screen())
	}
}

// A run made by a reset shows the reset's time as its start.
func TestOverviewGivesAResetRunItsOwnStart(t *testing.T) {
	b := newFixtureBackend()
	const run = "r1001-7f3a9c21"
	at := testClock.Add(-5 * time.Minute)
	b.histories[run] = []engine.Event{
		{ID: 1, Type: engine.EventWorkflowStarted, Time: testClock.Add(-72 * time.Hour), Attrs: &engine.WorkflowStarted{WorkflowID: "order-1001",
			RunID: run, WorkflowType: "OrderWorkflow", TaskQueue: "orders", ResetFrom: "r-old"}},
		{ID: 2, Type: engine.EventResetApplied, Time: at, Attrs: &engine.ResetApplied{FromRunID: "r-old", ToEventID: 1}},
	}
	h := newHarness(t, b, Options{})
	onRun(h, "order-1001")
	h.press("enter")
	h.wantScreenContains(at.UTC().Format(time.RFC3339)+" (5m ago)", "Reset from", "r-old")
}
