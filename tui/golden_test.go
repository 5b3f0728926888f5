package tui

import (
	"fmt"
	"testing"
)

// TestGolden renders every screen and dialog at 80x24 (the minimum, over
// any SSH) and 160x48, through the ASCII colour profile. Regenerate with
// go test ./tui -run TestGolden -update, and read the diff.
func TestGolden(t *testing.T) {
	scenes := []struct {
		name  string
		setup func(h *harness)
	}{
		{"list", func(h *harness) {}},
		{"list_marks", func(h *harness) { h.press("j", "space", "space", "j") }},
		{"detail_overview", func(h *harness) { onRun(h, "order-1001"); h.press("enter") }},
		{"detail_pending", func(h *harness) { onRun(h, "order-1002"); h.press("enter", "2") }},
		{"history", func(h *harness) {
			onRun(h, "order-1001")
			h.press("enter", "3", "j", "j", "j", "enter", "/")
			h.typeText("reserve")
			h.press("enter")
		}},
		{"stack", func(h *harness) { onRun(h, "order-1001"); h.press("enter", "4") }},
		{"query", func(h *harness) {
			onRun(h, "order-1001")
			h.press("enter", "5")
			h.typeText("status")
			h.press("enter")
		}},
		{"compensation_tab", func(h *harness) { onRun(h, "order-1001"); h.press("enter", "6") }},
		{"approvals", func(h *harness) { h.press(":"); h.typeText("approvals"); h.press("enter", "space") }},
		{"stuck", func(h *harness) { h.press(":"); h.typeText("stuck"); h.press("enter") }},
		{"queues", func(h *harness) { h.press(":"); h.typeText("queues"); h.press("enter") }},
		{"query_error", func(h *harness) { h.press("/"); h.typeText("type:OrderWorkflow status:runing"); h.press("enter") }},
		{"palette", func(h *harness) { h.press(":"); h.typeText("s") }},
		{"help", func(h *harness) { h.press("?") }},
		{"dialog_terminate", func(h *harness) { onRun(h, "order-1001"); h.press("T"); h.typeText("duplicate order") }},
		{"dialog_cancel_buttons", func(h *harness) { onRun(h, "order-1002"); h.press("C", "enter") }},
		{"dialog_approve", func(h *harness) { onRun(h, "refund-77"); h.press("a", "down"); h.typeText("checked with finance") }},
		{"dialog_bulk_approve", func(h *harness) {
			h.press(":")
			h.typeText("approvals")
			h.press("enter", "space", "space", "space", "a")
		}},
		{"dialog_signal", func(h *harness) {
			onRun(h, "onboard-alice")
			h.press("s")
			h.typeText("laptop-delivered")
			h.press("enter")
			h.typeText(`"serial": `)
			h.press("ctrl+s")
		}},
		{"dialog_reset", func(h *harness) { onRun(h, "order-1001"); h.press("enter", "3", "j", "j", "j", "j", "j", "R") }},
		{"dialog_compensate", func(h *harness) { onRun(h, "order-1001"); h.press("P") }},
		{"dialog_batch_done", func(h *harness) {
			h.press("/")
			h.typeText("type:RefundWorkflow")
			h.press("enter", "*", "T", "enter")
			h.typeText("2")
			h.press("enter")
		}},
		{"read_only", func(h *harness) { onRun(h, "order-1001"); h.press("T") }},
	}
	for _, sc := range scenes {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, size[0], size[1]), func(t *testing.T) {
				opts := Options{}
				if sc.name == "read_only" {
					opts.ReadOnly = true
				}
				h := newHarness(t, newFixtureBackend(), opts)
				h.resize(size[0], size[1])
				sc.setup(h)
				h.golden()
			})
		}
	}
	t.Run("too_small", func(t *testing.T) {
		h := newHarness(t, newFixtureBackend(), Options{})
		h.resize(72, 20)
		h.golden()
	})
}
