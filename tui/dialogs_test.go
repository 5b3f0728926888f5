package tui

import (
	"strings"
	"testing"

	"github.com/foremanhq/foreman/engine"
)

// onRun moves the list cursor to a workflow.
func onRun(h *harness, wf string) {
	h.t.Helper()
	h.press("g")
	for range 20 {
		if selectedID(h) == wf {
			return
		}
		h.press("j")
	}
	h.t.Fatalf("%s not in the list", wf)
}

func TestTerminateIsBoundToTheRunCapturedWhenTheDialogOpened(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	onRun(h, "order-1001")
	h.press("T")
	if _, ok := h.m.modal.(*confirmDialog); !ok {
		t.Fatalf("T opened %T", h.m.modal)
	}
	// While the dialog is open, the run is reset elsewhere: the row now
	// shows a new run, and new rows push it down.
	b.mu.Lock()
	for i := range b.docs {
		if b.docs[i].WorkflowID == "order-1001" {
			b.docs[i].RunID = "r1001-NEWRUN00"
			b.docs[i].StartTime = testClock
		}
	}
	b.mu.Unlock()
	h.send(refreshDueMsg{})
	h.typeText("duplicate")
	h.press("tab")
	h.typeText("order-1001")
	h.press("enter")
	h.wantCalls(`terminate order-1001 r1001-7f3a9c21 "duplicate"`)
	if h.m.modal != nil {
		t.Fatal("dialog still open")
	}
	h.wantScreenContains("terminate order-1001: done")
}

func TestConfirmationDefaultsToNo(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1002")
	h.press("C", "enter") // reason left empty: focus moves to the buttons, on No
	d := h.m.modal.(*confirmDialog)
	if !d.onButtons() || d.yes {
		t.Fatalf("focus on buttons=%v yes=%v, want No", d.onButtons(), d.yes)
	}
	h.press("enter")
	if h.m.modal != nil {
		t.Fatal("Enter on No left the dialog open")
	}
	h.wantCalls()
	// Choosing Yes explicitly cancels.
	h.press("C")
	h.typeText("customer asked")
	h.press("enter", "right", "enter")
	h.wantCalls(`cancel order-1002 r1002-0b44e810 "customer asked"`)
}

func TestTerminateNeedsTheTypedWorkflowID(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1001")
	h.press("T", "tab")
	h.typeText("order-100")
	h.press("enter")
	h.wantCalls()
	h.wantScreenContains("that does not match")
	// The Terminate button does not bypass it either.
	h.press("tab", "tab", "enter")
	h.wantCalls()
	h.typeText("1") // the failed confirmation put the focus back on the field

	h.press("enter")
	h.wantCalls(`terminate order-1001 r1001-7f3a9c21 ""`)
}

func TestReadOnlyHidesAndRefusesWrites(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{ReadOnly: true})
	onRun(h, "order-1001")
	for _, k := range []string{"T", "C", "a", "r", "s", "R", "P"} {
		h.press(k)
		if h.m.modal != nil {
			t.Fatalf("%s opened %T in read-only mode", k, h.m.modal)
		}
		h.wantScreenContains("read-only: ")
	}
	h.wantScreenContains("[read-only]")
	if strings.Contains(h.screen(), "T terminate") {
		t.Fatal("the footer offers terminate in read-only mode")
	}
	h.press("?")
	help := h.screen()
	for _, w := range []string{"terminate", "approve", "signal", "compensate"} {
		if strings.Contains(help, w) {
			t.Fatalf("help lists %q in read-only mode", w)
		}
	}
	h.press("esc")
	// Even a dialog that was somehow opened cannot get a write through the
	// dispatch point.
	h.run(h.m.dispatch(action{kind: actTerminate, scope: scope{targets: []target{{WorkflowID: "order-1001", RunID: "r1001-7f3a9c21"}}}}))
	h.run(h.m.dispatch(action{kind: actApprove, scope: scope{targets: []target{{WorkflowID: "order-1001", RunID: "r1001-7f3a9c21", Approval: "ship-order"}, {WorkflowID: "refund-77", RunID: "r0077-91d2aa03", Approval: "finance"}}}}))
	h.wantCalls()
	h.wantScreenContains("read-only: approve refused")
	// Reading still works: the detail view and queries.
	h.press("enter", "5", "enter")
	h.typeText("status")
	h.press("enter")
	h.wantScreenContains(`"stage": "awaiting approval"`)
}

func TestApproveWithACommentInTwoKeys(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1001")
	h.press("a")
	h.typeText("stock checked")
	h.press("enter")
	h.wantCalls(`approve order-1001 r1001-7f3a9c21 ship-order "stock checked"`)
	h.wantScreenContains("approved order-1001 (ship-order)")
	// A run with two pending approvals asks which one.
	onRun(h, "refund-77")
	h.press("r", "down", "enter")
	h.wantCalls(`approve order-1001 r1001-7f3a9c21 ship-order "stock checked"`, `reject refund-77 r0077-91d2aa03 risk ""`)
	// A run without one says so.
	onRun(h, "order-0998")
	h.press("a")
	h.wantScreenContains("order-0998 is completed")
}

func TestApprovalsInboxBulkApprovesMarkedItems(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	h.press(":")
	h.typeText("approvals")
	h.press("enter")
	s := h.m.top().(*approvalsScreen)
	var order []string
	for _, r := range s.rows {
		order = append(order, r.wf+"/"+r.a.Name)
	}
	if got := strings.Join(order, " "); got != "refund-77/finance refund-77/risk order-1001/ship-order" {
		t.Fatalf("inbox order %s, want oldest first", got)
	}
	h.press("space", "j", "space") // mark finance and ship-order, skip risk
	if len(s.marks) != 2 {
		t.Fatalf("%d marks", len(s.marks))
	}
	h.press("a")
	d, ok := h.m.modal.(*decideDialog)
	if !ok {
		t.Fatalf("a opened %T", h.m.modal)
	}
	if !d.typed.required() || d.typed.need != "2" {
		t.Fatalf("bulk approve asks to type %q", d.typed.need)
	}
	h.typeText("batch ok")
	h.press("enter")
	h.typeText("3")
	h.press("enter")
	h.wantCalls()
	h.press("backspace")
	h.typeText("2")
	h.press("enter")
	h.wantCallsAnyOrder(`approve order-1001 r1001-7f3a9c21 ship-order "batch ok"`, `approve refund-77 r0077-91d2aa03 finance "batch ok"`)
	bd, ok := h.m.modal.(*batchDialog)
	if !ok || !bd.finished {
		t.Fatalf("batch dialog %T %+v", h.m.modal, bd)
	}
	if done, _, failed, _ := bd.counts(); done != 2 || failed != 0 {
		t.Fatalf("batch dialog: %d done, %d failed", done, failed)
	}
	h.wantScreenContains("✓ 2 done", "finished")
	h.press("enter")
	if h.m.modal != nil {
		t.Fatal("batch dialog did not close")
	}
}

func TestBatchOverAllMatchesPreviewsTheCountAndReportsProgress(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	h.press("/")
	h.typeText("status:running")
	h.press("enter", "*")
	h.wantScreenContains("NEXT ACTION: ALL 6 MATCHES")
	h.press("C")
	d := h.m.modal.(*confirmDialog)
	if d.typed.need != "6" || !d.a.scope.all {
		t.Fatalf("dialog needs %q, all=%v", d.typed.need, d.a.scope.all)
	}
	h.wantScreenContains("Cancel 6 runs?", "6 runs: every match of executions /status:running")
	h.typeText("maintenance")
	h.press("enter")
	h.typeText("6")
	h.press("enter")
	calls := b.Calls()
	if len(calls) != 6 {
		t.Fatalf("%d cancels:\n%s", len(calls), strings.Join(calls, "\n"))
	}
	for _, c := range calls {
		if !strings.HasPrefix(c, "cancel ") || !strings.HasSuffix(c, `"maintenance"`) {
			t.Fatalf("unexpected call %s", c)
		}
	}
	h.wantScreenContains("6/6", "✓ 6 done", "finished")
	if h.list().scopeAll {
		t.Fatal("the all-matches scope outlived its action")
	}
}

func TestSignalPayloadIsValidatedBeforeSending(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "onboard-alice")
	h.press("s")
	h.typeText("laptop-delivered")
	h.press("enter") // to the payload editor, inside {  }
	h.typeText(`"serial": `)
	h.press("ctrl+s")
	h.wantCalls()
	h.wantScreenContains("invalid JSON at line 3, column 1")
	h.typeText(`"SN-42"`)
	h.press("ctrl+s")
	h.wantCalls(`signal onboard-alice rob1-12345678 laptop-delivered {
  "serial": "SN-42"
}`)
}

func TestResetFromTheTimelineShowsKeptAndDropped(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	onRun(h, "order-1001")
	h.press("enter", "3")
	for range 5 {
		h.press("j") // to event #6, the end of a workflow task
	}
	h.press("R")
	d, ok := h.m.modal.(*resetDialog)
	if !ok {
		t.Fatalf("R opened %T", h.m.modal)
	}
	if d.to.value() != "6" {
		t.Fatalf("reset point %q, want the selected event 6", d.to.value())
	}
	h.wantScreenContains("keeps 6 events (#1–#6)", "drops 6 events (#7–#12)", "ProgressSet, SignalReceived", "re-applies 1 signal(s)")
	h.typeText("bad deploy")
	h.press("enter")
	h.typeText("order-1001")
	h.press("enter")
	h.wantCalls(`reset order-1001 r1001-7f3a9c21 to=6 reapply=true "bad deploy"`)
	if got := h.detail().run; got != "new-run-0001" {
		t.Fatalf("detail shows run %s after the reset, want the new run", got)
	}
}

func TestResetRefusesWithoutAFreshPreview(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1001")
	h.press("R")
	d := h.m.modal.(*resetDialog)
	// Change the point without previewing it, then try to confirm.
	h.press("shift+tab", "shift+tab", "ctrl+u")
	h.typeText("3")
	h.press("tab", "tab", "tab")
	h.typeText("order-1001")
	h.press("enter")
	h.wantCalls()
	if !strings.Contains(d.err, "preview") {
		t.Fatalf("error %q", d.err)
	}
}

func TestCompensateShowsThePlanFirst(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1001")
	h.press("P")
	h.wantScreenContains("Compensate this run?", "ReleaseStock", "CancelPaymentHold", "Runs 2 compensation(s)")
	h.typeText("order cancelled")
	h.press("enter")
	h.typeText("order-1001")
	h.press("enter")
	h.wantCalls(`compensate order-1001 r1001-7f3a9c21 "order cancelled"`)
}

func TestActionErrorsAreShown(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.send(actionDoneMsg{act: action{kind: actApprove}, t: target{WorkflowID: "order-1001", Approval: "ship-order"}, err: engine.ErrNotApprover})
	h.wantScreenContains("approve order-1001 (ship-order) failed")
}
