// Package clock is where the engine reads time and waits for it: the wall
// clock in production, a manual clock under test (engine/enginetest). Only
// what workflow code and its history can observe goes through it — event
// times, durable timers, retry backoff, activity and approval timeouts.
// Waits on the store (redelivery, AckWait, polling) stay on the wall clock:
// the store keeps its own time.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and schedules calls.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// Hold tells a manual clock that work is under way which will store
	// something or schedule a call when done, so time must not move on
	// yet; release ends the hold. The wall clock ignores holds.
	Hold() (release func())
}

// Timer is a call scheduled by AfterFunc.
type Timer interface {
	// Stop cancels the call; false if it already ran or was stopped.
	Stop() bool
}

// Wall is the real clock.
var Wall Clock = wall{}

type wall struct{}

func (wall) Now() time.Time                            { return time.Now() }
func (wall) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
func (wall) Hold() func()                              { return nop }

func nop() {}

// Since is c's time elapsed since t.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Until is c's time left until t.
func Until(c Clock, t time.Time) time.Duration { return t.Sub(c.Now()) }

// WithDeadline is context.WithDeadline on c's time. On the wall clock it is
// exactly context.WithDeadline; on another clock the context is cancelled
// with cause context.DeadlineExceeded when c reaches d (its Err is then
// context.Canceled, its Deadline is unset: a wall deadline would be wrong).
func WithDeadline(c Clock, parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	if c == Wall {
		return context.WithDeadline(parent, d)
	}
	ctx, cancel := context.WithCancelCause(context.WithValue(parent, deadlineKey{}, d))
	t := c.AfterFunc(Until(c, d), func() { cancel(context.DeadlineExceeded) })
	return ctx, func() { t.Stop(); cancel(context.Canceled) }
}

type deadlineKey struct{}

// DeadlineOf returns the deadline WithDeadline set on a clock other than
// the wall clock (which sets ctx.Deadline instead).
func DeadlineOf(ctx context.Context) (time.Time, bool) {
	d, ok := ctx.Value(deadlineKey{}).(time.Time)
	return d, ok
}

type contextKey struct{}

// NewContext returns ctx carrying c, for code that runs under an activity
// attempt and needs the engine's clock (enginetest.WaitForTimeout).
func NewContext(ctx context.Context, c Clock) context.Context {
	return context.WithValue(ctx, contextKey{}, c)
}

// FromContext returns the clock ctx carries, or Wall.
func FromContext(ctx context.Context) Clock {
	if c, ok := ctx.Value(contextKey{}).(Clock); ok {
		return c
	}
	return Wall
}
