package tui

import (
	"strings"
	"testing"
)

// The NATS link lost: the header says so within a clock tick (and does not
// blame the index), an action confirmed meanwhile fails at once without
// reaching the backend, an action key opens no dialog; back to live once
// reconnected.
func TestDisconnectedBannerAndFastRefusal(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	onRun(h, "order-1002")
	h.press("C")
	h.typeText("engine gone")
	b.mu.Lock()
	b.down = "nats://127.0.0.1:4222"
	b.mu.Unlock()
	h.send(clockMsg(testClock))
	h.wantScreenContains("disconnected from nats://127.0.0.1:4222, retrying")
	if strings.Contains(h.screen(), "index unreachable") {
		t.Fatalf("the header blames the index for a lost link:\n%s", h.screen())
	}
	h.press("tab", "tab", "enter")
	h.wantCalls()
	h.wantScreenContains("cancel: not connected to the engine at nats://127.0.0.1:4222")
	if h.m.modal != nil {
		t.Fatalf("the dialog stayed open: %T", h.m.modal)
	}
	h.press("C")
	if h.m.modal != nil {
		t.Fatalf("an action key opened %T while disconnected", h.m.modal)
	}
	// A long server URL takes the whole line rather than vanish (spread
	// would drop the right side).
	b.mu.Lock()
	b.down = "tls://nats-primary-1.eu-west-1.production.example.internal:4222"
	b.mu.Unlock()
	h.send(clockMsg(testClock))
	h.wantScreenContains("✗ disconnected from tls://nats-primary-1.eu-west-1.production")

	b.mu.Lock()
	b.down = ""
	searches := len(b.searches)
	b.mu.Unlock()
	h.send(clockMsg(testClock))
	if strings.Contains(h.screen(), "disconnected") {
		t.Fatalf("the banner stayed after reconnecting:\n%s", h.screen())
	}
	h.wantScreenContains("● live", "reconnected to")
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.searches) == searches {
		t.Fatal("the list did not reload after reconnecting")
	}
}

// While a write runs the header spins, and keys typed meanwhile are
// dropped: none opens a dialog that the rest of the typing would land in.
func TestKeysHeldWhileAWriteRuns(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1002")
	h.press("C")
	h.typeText("slow engine")
	h.press("tab", "tab")
	_, write := h.m.Update(keyMsg("enter")) // the write starts; its answer is held back
	h.wantScreenContains("cancel order-1002…")
	h.press("s")
	h.typeText("approve")
	if h.m.modal != nil {
		t.Fatalf("a key typed while the write ran opened %T", h.m.modal)
	}
	h.wantCalls()
	h.press("esc") // stop waiting; the outcome still arrives
	if h.m.busy != nil {
		t.Fatal("esc did not stop the wait")
	}
	h.wantScreenContains("cancel order-1002: still running")
	h.run(write)
	h.wantCalls(`cancel order-1002 r1002-0b44e810 "slow engine"`)
	h.wantScreenContains("cancel order-1002: done")
	if h.m.busy != nil || strings.Contains(h.screen(), "keys held") {
		t.Fatalf("the spinner stayed after the write answered:\n%s", h.screen())
	}
}
