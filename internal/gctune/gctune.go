// Package gctune trades memory for CPU in a long-running server: it runs
// Go's garbage collector less often than the default (GOGC=100) while the
// live heap is small, and falls back to the default as the heap grows.
//
// Why: under the throughput benchmark foreman-engine allocates fast (the
// embedded nats-server's per-message buffers, the search indexer's
// segments) over a live heap of some 40 MB, and at GOGC=100 collected
// several times a second: about a tenth of its CPU went to the collector
// (CPU profile, issue 21). At GOGC=400 it collects a fifth as often for
// a heap that peaks at 5x the live heap instead of 2x.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

const (
	// DefaultPercent is the GOGC used while the heap is small.
	DefaultPercent = 400
	// DefaultBudget is the heap (live plus garbage) the raised GOGC may
	// reach; beyond it the percent shrinks, down to Go's default.
	DefaultBudget = 512 << 20
	// goPercent is Go's own default, the floor: the tuner never collects
	// more often than an untuned process.
	goPercent = 100
)

// Percent is the GOGC that lets a heap of live bytes grow to budget,
// within [100, maxPercent]: the heap goal, live*(1+Percent/100), is then
// max(min(live*(1+maxPercent/100), budget), 2*live), never above what Go's
// default or the budget allow, whichever is larger.
func Percent(live, budget uint64, maxPercent int) int {
	if maxPercent <= goPercent {
		return goPercent
	}
	if live == 0 {
		return maxPercent
	}
	if live >= budget/2 {
		return goPercent
	}
	p := (budget - live) * 100 / live
	if p >= uint64(maxPercent) {
		return maxPercent
	}
	return max(int(p), goPercent)
}

// Tuner re-evaluates GOGC after every collection.
type Tuner struct {
	budget     uint64
	maxPercent int
	mu         sync.Mutex // one evaluation at a time; none after Stop
	stopped    bool
	sample     []metrics.Sample
	set        int          // the percent last set; 0 before the first
	evaluated  atomic.Int64 // evaluations so far (tests)
}

// Start tunes GOGC for the rest of the process (or until Stop) with the
// given budget and maximum percent, unless the environment sets GOGC: an
// operator's GOGC (a number or "off") always wins, and Start then returns
// nil. GOMEMLIMIT, when set, still applies on top.
func Start(budget uint64, maxPercent int) *Tuner {
	if os.Getenv("GOGC") != "" {
		return nil
	}
	t := &Tuner{budget: budget, maxPercent: maxPercent, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	if t.tune() {
		t.arm()
	}
	return t
}

// sentinel is garbage whose finalizer runs once per collection; it holds
// a pointer so that it is not a tiny allocation (whose finalizers may
// never run).
type sentinel struct {
	t   *Tuner
	pad [16]byte
}

func (t *Tuner) arm() {
	s := &sentinel{t: t}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.t.tune() {
			s.t.arm()
		}
	})
}

// tune sets GOGC from the live heap the last collection measured; false
// once stopped.
func (t *Tuner) tune() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	var live uint64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	if p := Percent(live, t.budget, t.maxPercent); p != t.set {
		debug.SetGCPercent(p)
		t.set = p
	}
	t.evaluated.Add(1)
	return true
}

// Stop ends the tuning and restores Go's default GOGC. A nil Tuner (GOGC
// set by the environment) does nothing.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		debug.SetGCPercent(goPercent)
	}
}
