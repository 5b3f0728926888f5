package jetstream

import (
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// serverClock is the store's clock: the NATS server's time, as this
// process reads it off what the server stamps. Every message the server
// stores carries the server's time; each one this process reads is a
// sample, stamped before it arrived, so a sample is never ahead of the
// server. The clock keeps the latest sample that moved it forward and
// counts from it on this process's monotonic clock.
//
// Why: timers, retry backoff and activity deadlines are computed by one
// process and fired by another. On each host's wall clock, a host whose
// clock is ahead delays every timer it schedules by that much, a clock jump
// fires pending timers at once, and history shows negative gaps. On this
// clock a host's wall clock plays no part (only its monotonic clock, for
// the time since a sample); its error is at most the lowest latency seen
// between the server stamping a message and this process reading it
// (well under a millisecond on one machine, about half a round trip over a
// network), and it only ever moves forward.
type serverClock struct {
	// elapsed reads this process's monotonic clock (time since it
	// started): never the wall clock, which a host may have wrong or see
	// jump. Tests replace it.
	elapsed func() time.Duration

	mu     sync.Mutex
	server time.Time     // the server's time at a sample
	at     time.Duration // elapsed() then
	ok     bool
}

var processStart = time.Now()

func newServerClock() *serverClock {
	return &serverClock{elapsed: func() time.Duration { return time.Since(processStart) }}
}

// observe takes a server timestamp read off a message or an info reply.
func (c *serverClock) observe(server time.Time) {
	if c == nil || server.IsZero() {
		return
	}
	now := c.elapsed()
	c.mu.Lock()
	if !c.ok || server.After(c.server.Add(now-c.at)) {
		c.server, c.at, c.ok = server, now, true
	}
	c.mu.Unlock()
}

// Now is the server's time as this process estimates it (the wall clock
// until the first sample, which Open takes).
func (c *serverClock) Now() time.Time {
	now := c.elapsed()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok {
		return time.Now()
	}
	return c.server.Add(now - c.at)
}

// AfterFunc waits d on the monotonic clock: durations need no server.
func (c *serverClock) AfterFunc(d time.Duration, f func()) engine.ClockTimer {
	return time.AfterFunc(d, f)
}

// Hold is for manual clocks; real time does not wait.
func (c *serverClock) Hold() func() { return func() {} }

// EngineClock hands the engine the server's clock (engine/clock.go): the
// one clock every engine, worker and client on this server agrees on.
func (s *Store) EngineClock() engine.Clock {
	if s.clock == nil {
		return nil // not opened by Open or OpenExisting: the engine uses the wall clock
	}
	return s.clock
}
