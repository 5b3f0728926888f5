package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// fakePulses lets a test give its backend other figures than
// fixturePulse's (kept apart from fakeBackend's fields).
var (
	fakePulses    sync.Map // *fakeBackend -> searchapi.Pulse
	pulseRequests sync.Map // *fakeBackend -> *atomic.Int64 (reads are not in calls, which tests read as writes)
)

func (f *fakeBackend) Pulse(ctx context.Context, req searchapi.PulseRequest) (searchapi.Pulse, error) {
	n, _ := pulseRequests.LoadOrStore(f, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	if p, ok := fakePulses.Load(f); ok {
		return p.(searchapi.Pulse), nil
	}
	return fixturePulse(f.clock), nil
}

// fixturePulse: every fixture queue polled (so the other scenes show no
// no-worker reasons), plus a queue with tasks and no worker.
func fixturePulse(now time.Time) searchapi.Pulse {
	series := func(f func(i int) uint32) []uint32 {
		v := make([]uint32, pulseSeconds)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	w := func(id string, wf, act int) searchapi.WorkerInfo {
		return searchapi.WorkerInfo{Identity: id, Version: "v1.4.2", WorkflowSlots: [2]int{wf, 64}, ActivitySlots: [2]int{act, 256}, LastSeen: now.Add(-2 * time.Second)}
	}
	return searchapi.Pulse{
		At:                      now,
		Started:                 series(func(i int) uint32 { return uint32(8 + i%7) }),
		Completed:               series(func(i int) uint32 { return uint32(7 + i%5) }),
		Failed:                  series(func(i int) uint32 { return uint32(i % 23 / 22) }),
		ActivityFailures:        series(func(i int) uint32 { return uint32(i % 11 / 9) }),
		SeriesEnd:               now,
		RunDuration:             searchapi.Latency{P50MS: 5.9, P99MS: 20.3, Count: 590},
		ScheduleToStart:         searchapi.Latency{P50MS: 1.2, P99MS: 4.1, Count: 1180},
		WorkflowScheduleToStart: searchapi.Latency{P50MS: 0.8, P99MS: 3.2, Count: 1770},
		Workers:                 5,
		IndexLag:                searchapi.Lag{Behind: 3, LagMS: 176, Docs: 12345},
		StuckAfter:              "10m0s",
		Stuck:                   []searchapi.Group{{Value: "approval", Count: 3}, {Value: "retry", Count: 1}, {Value: "no_worker", Count: 2}},
		Queues: []searchapi.QueueHealth{
			{Queue: "reports", WorkflowTasks: 2, OldestTaskMS: 185_000, Running: 2, NoWorker: true},
			{Queue: "batch", WorkflowPollers: 1, ActivityPollers: 1, Running: 1, Workers: []searchapi.WorkerInfo{w("batch-1", 0, 1)}},
			{Queue: "orders", WorkflowPollers: 2, ActivityPollers: 2, ActivityTasks: 4, OldestTaskMS: 40, Running: 3,
				Workers: []searchapi.WorkerInfo{w("orders-a", 1, 3), w("orders-b", 0, 1)}},
			{Queue: "payments", WorkflowPollers: 1, ActivityPollers: 1, Running: 1, Workers: []searchapi.WorkerInfo{w("pay-1", 0, 0)}},
			{Queue: "people", WorkflowPollers: 1, ActivityPollers: 1, Running: 1, Workers: []searchapi.WorkerInfo{w("people-1", 0, 0)}},
		},
	}
}

func openPulse(h *harness) {
	h.press(":")
	h.typeText("pulse")
	h.press("enter")
}

// TestGoldenPulse renders :pulse at the minimum size and a large one, and
// :queues with the workers and backlogs.
func TestGoldenPulse(t *testing.T) {
	for _, sc := range []struct {
		name  string
		setup func(h *harness)
	}{
		{"pulse", openPulse},
		{"queues_health", func(h *harness) { h.press(":"); h.typeText("queues"); h.press("enter") }},
	} {
		for _, size := range [][2]int{{80, 24}, {200, 60}} {
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, size[0], size[1]), func(t *testing.T) {
				h := newHarness(t, newFixtureBackend(), Options{})
				h.resize(size[0], size[1])
				sc.setup(h)
				h.golden()
			})
		}
	}
}

// :pulse polls once a second while on top, and stops when left.
func TestPulsePollsWhileOnTop(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	openPulse(h)
	s, ok := h.m.top().(*pulseScreen)
	if !ok || s.p == nil {
		t.Fatalf("top is %T, loaded %v", h.m.top(), ok && s.p != nil)
	}
	if h.ticks[len(h.ticks)-1] != pulseEvery {
		t.Fatalf("no %s tick scheduled after the answer: %v", pulseEvery, h.ticks)
	}
	pulses := func() int {
		n, _ := pulseRequests.LoadOrStore(h.b, new(atomic.Int64))
		return int(n.(*atomic.Int64).Load())
	}
	before := pulses()
	h.send(pulseTickMsg{addr{s.id}})
	if pulses() != before+1 {
		t.Fatalf("a tick on top made %d requests, want 1", pulses()-before)
	}
	// A live index update while polling adds no request of its own.
	h.send(refreshDueMsg{})
	if pulses() != before+1 {
		t.Fatalf("a live refresh added requests: %d", pulses()-before)
	}
	h.press("esc")
	h.send(pulseTickMsg{addr{s.id}}) // the tick already scheduled
	if pulses() != before+1 {
		t.Fatalf("requests after leaving :pulse: %d", pulses()-before)
	}
}

// A running run on a queue no worker polls says so: in the detail view,
// the list's WAITING column and the stuck list's WHY.
func TestNoWorkerReasonShown(t *testing.T) {
	f := newFixtureBackend()
	p := fixturePulse(testClock)
	for i := range p.Queues {
		if p.Queues[i].Queue == "orders" {
			p.Queues[i] = searchapi.QueueHealth{Queue: "orders", Running: 3, NoWorker: true}
		}
	}
	fakePulses.Store(f, p)
	t.Cleanup(func() { fakePulses.Delete(f) })
	h := newHarness(t, f, Options{})
	h.resize(160, 48)
	onRun(h, "order-1001")
	h.press("enter")
	if s := h.screen(); !strings.Contains(s, "no worker polling queue orders") {
		t.Fatalf("detail view without the reason:\n%s", s)
	}
	h.press("esc", ":")
	h.typeText("stuck")
	h.press("enter")
	if s := h.screen(); !strings.Contains(s, "no worker polling queue orders") {
		t.Fatalf("stuck list without the reason:\n%s", s)
	}
	// With a worker on the queue, no such reason.
	h2 := newHarness(t, newFixtureBackend(), Options{})
	h2.resize(160, 48)
	onRun(h2, "order-1001")
	h2.press("enter")
	if s := h2.screen(); strings.Contains(s, "no worker") {
		t.Fatalf("a polled queue shows a no-worker reason:\n%s", s)
	}
}

// BenchmarkListFramePulse is the frame time with :pulse open at 200x60 (the
// bar: 16 ms).
func BenchmarkListFramePulse(b *testing.B) {
	f := newFakeBackend(testClock)
	f.synthetic = 100_000 // the list under it holds as many matches as BenchmarkListFrame's
	h := newHarness(b, f, Options{})
	h.resize(200, 60)
	openPulse(h)
	if _, ok := h.m.top().(*pulseScreen); !ok {
		b.Fatalf("top is %T", h.m.top())
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = h.m.View()
	}
}
