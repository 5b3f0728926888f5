package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live, budget uint64
		max, want    int
	}{
		{0, 512 * mb, 400, 400},            // nothing measured yet
		{40 * mb, 512 * mb, 400, 400},      // the benchmark's engine: goal 200 MB
		{102 * mb, 512 * mb, 400, 400},     // 5x live still fits the budget
		{150 * mb, 512 * mb, 400, 241},     // the goal is the budget
		{200 * mb, 512 * mb, 400, 156},     //
		{256 * mb, 512 * mb, 400, 100},     // half the budget: Go's default
		{2048 * mb, 512 * mb, 400, 100},    // never below Go's default
		{40 * mb, 512 * mb, 50, 100},       // a max below the default is the default
		{1, 512 * mb, 400, 400},            // no overflow on a tiny heap
		{1 << 62, 1 << 63, 400, goPercent}, // nor on a huge one
	} {
		if got := Percent(c.live, c.budget, c.max); got != c.want {
			t.Errorf("Percent(%d MB, %d MB, %d) = %d, want %d", c.live/mb, c.budget/mb, c.max, got, c.want)
		}
		if p := Percent(c.live, c.budget, c.max); c.live > 0 && c.max > goPercent {
			// The goal stays within max(budget, 2*live).
			goal := float64(c.live) * (1 + float64(p)/100)
			if limit := max(float64(c.budget), 2*float64(c.live)); goal > limit*1.001 {
				t.Errorf("live %d MB: goal %.0f MB over %.0f MB", c.live/mb, goal/mb, limit/mb)
			}
		}
	}
}

// gcPercent reads GOGC without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// The tuner follows the live heap collection by collection: a live heap
// above half the budget brings GOGC down to Go's default, a small one
// raises it to the maximum again, and Stop restores the default.
func TestTunerFollowsLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(gcPercent())
	tu := Start(64<<20, 400)
	if tu == nil {
		t.Fatal("Start returned nil with GOGC unset")
	}
	defer tu.Stop()
	waitPercent := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for gcPercent() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOGC %d, want %d (%d evaluations)", what, gcPercent(), want, tu.evaluated.Load())
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitPercent(400, "small heap")
	big := make([]*[1 << 20]byte, 48) // 48 MB live, over half of 64 MB
	for i := range big {
		big[i] = new([1 << 20]byte)
	}
	waitPercent(100, "live heap over half the budget")
	runtime.KeepAlive(big)
	big = nil
	waitPercent(400, "heap freed")
	n := tu.evaluated.Load()
	tu.Stop()
	if got := gcPercent(); got != 100 {
		t.Fatalf("after Stop: GOGC %d, want 100", got)
	}
	runtime.GC()
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	if m := tu.evaluated.Load(); m != n || gcPercent() != 100 {
		t.Fatalf("after Stop: %d more evaluations, GOGC %d", m-n, gcPercent())
	}
}

// An operator's GOGC wins: no tuner, GOGC untouched.
func TestOperatorGOGCWins(t *testing.T) {
	t.Setenv("GOGC", "150")
	before := gcPercent()
	if tu := Start(64<<20, 400); tu != nil {
		tu.Stop()
		t.Fatal("Start tuned with GOGC set in the environment")
	}
	if gcPercent() != before {
		t.Fatalf("GOGC changed to %d", gcPercent())
	}
}
