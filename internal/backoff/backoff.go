// Package backoff spaces retries: one exponential policy for every retry
// in Foreman (activity retry policies, failing workflow tasks, and the
// loops that reconnect consumers and the indexer).
package backoff

import (
	"context"
	"time"
)

// Policy grows a delay exponentially: Initial before the first retry,
// times Factor before each next one, never more than Max.
type Policy struct {
	Initial time.Duration
	Factor  float64 // at least 1
	Max     time.Duration
}

// Delay returns the wait before retry n (1 for the first; n < 1 counts
// as 1). It multiplies step by step, stopping at Max, so that the result
// is the same on every machine (an activity's next attempt time is
// recorded in history) and a large n costs no more than reaching Max.
func (p Policy) Delay(n int) time.Duration {
	d := float64(p.Initial)
	for i := 1; i < n; i++ {
		d *= p.Factor
		if d >= float64(p.Max) {
			return p.Max
		}
	}
	return min(time.Duration(d), p.Max)
}

// Loop spaces the retries of a loop that keeps failing: each Wait sleeps
// the policy's next delay; Reset after a success starts over from
// Initial. The zero value of Loop needs its Policy set.
type Loop struct {
	Policy
	n int
}

// Wait sleeps the next delay; false if ctx ended first.
func (l *Loop) Wait(ctx context.Context) bool {
	l.n++
	t := time.NewTimer(l.Delay(l.n))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Reset makes the next Wait sleep Initial again.
func (l *Loop) Reset() { l.n = 0 }
