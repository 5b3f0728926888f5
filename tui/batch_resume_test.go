package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator/operatortest"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// TestConsoleBatchStoppedMidwayAndResumed cancels every match from the
// console on a real engine, stops the batch midway (one run acted on with
// its answer lost), and resumes it: every run is cancelled exactly once
// and the dialog counts every run done.
func TestConsoleBatchStoppedMidwayAndResumed(t *testing.T) {
	fake := newFakeBackend(testClock)
	e := operatortest.Start(t)
	const n = 20
	runs := e.StartIdle(t, "idle", n)
	for i, r := range runs {
		fake.docs = append(fake.docs, searchapi.Doc{WorkflowID: r.WorkflowID, RunID: r.RunID, Type: "Idle", TaskQueue: "nobody",
			Status: engine.StatusRunning, StartTime: testClock.Add(-time.Duration(i) * time.Minute), LastEventTime: testClock})
	}
	fake.journal = e.Journal // the journal on the engine's JetStream
	lose := &operatortest.LoseAnswer{Actions: e.Actions, Lose: 3}
	fake.real = lose
	h := newHarness(t, fake, Options{})

	stopped := false
	h.after = func() {
		if bd, ok := h.m.modal.(*batchDialog); ok && !stopped {
			if done, _, _, _ := bd.counts(); done >= 6 {
				stopped = true
				h.press("esc")
			}
		}
	}
	h.press("/")
	h.typeText("type:Idle")
	h.press("enter", "*", "C")
	h.typeText("maintenance")
	h.press("enter")
	h.typeText(fmt.Sprint(n))
	h.press("enter")

	bd, ok := h.m.modal.(*batchDialog)
	if !ok || !bd.finished || !bd.stopped {
		t.Fatalf("after esc: %T %+v", h.m.modal, bd)
	}
	first, _, failedFirst, _ := bd.counts()
	if first >= n || failedFirst != 1 {
		t.Fatalf("stopped after %d of %d runs, %d failed: want stopped midway with the lost answer failed", first, n, failedFirst)
	}
	h.wantScreenContains("stopped by the operator", "r resume")

	h.after = nil
	h.press("r")
	if !bd.finished || bd.stopped || bd.err != nil {
		t.Fatalf("resume: %+v", bd)
	}
	done, ok2, failed, skipped := bd.counts()
	if done != n || failed != 0 || ok2+skipped != n {
		t.Fatalf("resumed: %d done (%d ok, %d skipped), %d failed; want all %d", done, ok2, skipped, failed, n)
	}
	h.wantScreenContains(fmt.Sprintf("%d/%d", n, n), "finished")
	for _, r := range runs {
		if got := e.CancelsOf(t, r); got != 1 {
			t.Errorf("%s cancelled %d times, want once", r.WorkflowID, got)
		}
		if res := bd.results[r.RunID+"\x00"]; lose.Lost(r.RunID) && !strings.Contains(res.Reason, "confirmed from history") {
			t.Errorf("the run whose answer was lost: %+v", res)
		}
	}
	if items, err := e.Journal.Items(context.Background(), bd.batchID); err != nil || len(items) != n {
		t.Fatalf("journal of %s: %d runs, %v", bd.batchID, len(items), err)
	}
}
