package engine

import "github.com/foremanhq/foreman/engine/internal/clock"

// Time, for everything workflow code and its history can observe (event
// times, durable timers, retry backoff, activity and approval timeouts),
// comes from one clock, and the store decides which: a store that has one
// (the test environment's, engine/enginetest) hands it out, any other
// store gets the wall clock. Waits on the store itself (redelivery,
// polling, shutdown) stay on the wall clock.
type clocked interface {
	EngineClock() clock.Clock
}

// clockOf returns the clock the engine uses over store s.
func clockOf(s any) clock.Clock {
	if c, ok := s.(clocked); ok {
		if clk := c.EngineClock(); clk != nil {
			return clk
		}
	}
	return clock.Wall
}

// Clock is what a store hands the engine through an EngineClock method:
// the time every process of a deployment agrees on. The JetStream store's
// is the NATS server's clock (jetstream/clock.go); the test environment's
// is a manual clock.
type Clock = clock.Clock

// ClockTimer is a call a Clock scheduled.
type ClockTimer = clock.Timer
