package clock

import (
	"sort"
	"sync"
	"time"
)

// Manual is a clock that moves only when told to (Set). It counts holds
// and scheduled calls running, so its owner can tell when the engine has
// settled before moving time on.
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	pending []*manualTimer
	seq     uint64
	holds   int
	parked  int
	changed chan struct{} // closed and replaced on every change
}

// NewManual returns a manual clock reading start.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start, changed: make(chan struct{})}
}

type manualTimer struct {
	m    *Manual
	at   time.Time
	seq  uint64
	f    func()
	done bool
}

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	for i, p := range t.m.pending {
		if p == t {
			t.m.pending = append(t.m.pending[:i], t.m.pending[i+1:]...)
			break
		}
	}
	t.m.notifyLocked()
	return true
}

// Now returns the clock's time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// AfterFunc schedules f at Now()+d; d <= 0 calls it at once. While f runs
// it counts as a hold.
func (m *Manual) AfterFunc(d time.Duration, f func()) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	t := &manualTimer{m: m, at: m.now.Add(d), seq: m.seq, f: f}
	if d <= 0 {
		m.runLocked(t)
		return t
	}
	m.pending = append(m.pending, t)
	m.notifyLocked()
	return t
}

// Hold counts work under way until release is called (once; later calls
// are no-ops).
func (m *Manual) Hold() func() { return m.count(&m.holds) }

// count increments *n until release is called (once).
func (m *Manual) count(n *int) func() {
	m.mu.Lock()
	*n++
	m.notifyLocked()
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			*n--
			m.notifyLocked()
			m.mu.Unlock()
		})
	}
}

// Holds reports the holds open, scheduled calls running included.
func (m *Manual) Holds() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.holds
}

// Park counts an activity attempt that waits for time to pass (for its
// own timeout) until release is called (once).
func (m *Manual) Park() func() { return m.count(&m.parked) }

// Parked reports the activity attempts waiting for time to pass.
func (m *Manual) Parked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parked
}

// Next returns the time of the earliest scheduled call, if any.
func (m *Manual) Next() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 {
		return time.Time{}, false
	}
	next := m.pending[0].at
	for _, t := range m.pending[1:] {
		if t.at.Before(next) {
			next = t.at
		}
	}
	return next, true
}

// Set moves the clock to t (never backwards) and starts every call due by
// then, earliest first.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.now) {
		m.now = t
	}
	var due, later []*manualTimer
	for _, p := range m.pending {
		if p.at.After(m.now) {
			later = append(later, p)
		} else {
			due = append(due, p)
		}
	}
	m.pending = later
	sort.Slice(due, func(i, j int) bool {
		if !due[i].at.Equal(due[j].at) {
			return due[i].at.Before(due[j].at)
		}
		return due[i].seq < due[j].seq
	})
	for _, p := range due {
		m.runLocked(p)
	}
	m.notifyLocked()
}

// Changed returns a channel closed at the next change (a call scheduled,
// stopped or run, a hold ended, the time set).
func (m *Manual) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

func (m *Manual) runLocked(t *manualTimer) {
	t.done = true
	m.holds++
	go func() {
		defer func() {
			m.mu.Lock()
			m.holds--
			m.notifyLocked()
			m.mu.Unlock()
		}()
		t.f()
	}()
}

func (m *Manual) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}
