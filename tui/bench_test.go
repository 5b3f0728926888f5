package tui

import (
	"testing"
)

// BenchmarkListFrame renders one frame of the executions list at 200x60
// while the search matches 100,000 runs (the fake backend reports the total
// and serves pages on demand, as the index does). Budget: 16 ms, one frame
// at 60 Hz.
func BenchmarkListFrame(b *testing.B) {
	f := newFakeBackend(testClock)
	f.synthetic = 100_000
	h := newHarness(b, f, Options{})
	h.resize(200, 60)
	h.press("G", "k", "k") // deep in the matches: the last page, walked from the end
	if got := h.list().win.total; got != 100_000 {
		b.Fatalf("total %d", got)
	}
	b.Run("view", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = h.m.View()
		}
	})
	// A key press and the frame after it: what scrolling costs.
	b.Run("scroll", func(b *testing.B) {
		b.ReportAllocs()
		keys := []string{"k", "j"}
		i := 0
		for b.Loop() {
			h.press(keys[i%2])
			_ = h.m.View()
			i++
		}
	})
}
