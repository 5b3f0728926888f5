package enginetest

import (
	"context"
	"time"

	"github.com/foremanhq/foreman/engine/internal/clock"
)

// An activity runs in real time, and the environment holds time still
// while one runs, so that an activity that returns in a few milliseconds
// does so before any timer fires. An activity that should take time, or
// hang until its timeout, says so with Sleep or WaitForTimeout: while it
// waits there, time moves on.

// WaitForTimeout, called by an activity, waits until the attempt's context
// ends — its start-to-close or schedule-to-close deadline on the test clock,
// a cancellation, or the worker stopping — and returns the context's cause.
// (A heartbeat timeout fails the attempt in history and retries it; the
// hung attempt itself waits on until its deadline.) Outside an environment
// it just waits for the context.
func WaitForTimeout(ctx context.Context) error {
	m, ok := clock.FromContext(ctx).(*clock.Manual)
	if !ok {
		<-ctx.Done()
		return context.Cause(ctx)
	}
	at, has := clock.DeadlineOf(ctx)
	park(ctx, m, at, has)
	<-ctx.Done() // at the deadline, the engine is ending it
	return context.Cause(ctx)
}

// Sleep, called by an activity, takes d of the environment's time (an
// activity that works for a while, or returns after its deadline); it
// returns early with the context's cause if the context ends. Outside an
// environment it sleeps d of real time.
func Sleep(ctx context.Context, d time.Duration) error {
	m, ok := clock.FromContext(ctx).(*clock.Manual)
	if !ok {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	if !park(ctx, m, m.Now().Add(d), true) {
		return context.Cause(ctx)
	}
	return nil
}

// park waits, counted as waiting for time, until the clock reaches at (if
// has) or ctx ends; true when the clock woke it. The clock's call ends the
// wait before it returns, so the environment never sees a woken activity
// as neither waiting nor running, and cannot move time on under it.
func park(ctx context.Context, m *clock.Manual, at time.Time, has bool) bool {
	release := m.Park()
	defer release()
	woke := make(chan struct{})
	if has {
		t := m.AfterFunc(at.Sub(m.Now()), func() { release(); close(woke) })
		defer t.Stop()
	}
	select {
	case <-woke:
		return true
	case <-ctx.Done():
		return false
	}
}
