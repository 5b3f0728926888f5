package engine

import (
	"fmt"
	"time"
)

// NewTimer returns a future that is ready after d of workflow time. The
// timer is durable: it fires after restarts, at once if it fell due while
// everything was down. Cancelling ctx cancels it (the future fails with
// ErrCanceled).
func NewTimer(ctx Context, d time.Duration) Future {
	wc := mustCtx(ctx)
	env := wc.env
	f := &futureImpl{}
	if d <= 0 {
		f.Set(nil, nil)
		return f
	}
	seq := env.nextSeq()
	st := &timerState{seq: seq, fireAt: env.now.Add(d), future: f}
	f.desc = func() string { return fmt.Sprintf("timer %s (fires %s)", d, st.fireAt.UTC().Format(time.RFC3339)) }
	env.timers[seq] = st
	env.addCommand(&command{typ: EventTimerStarted, attrs: &TimerStarted{Seq: seq, Duration: d, FireAt: st.fireAt},
		desc: fmt.Sprintf("starts a timer (seq %d)", seq)})
	st.uncancel = wc.cancel.onCancel(func() {
		if st.done {
			return
		}
		st.done = true
		env.addCommand(&command{typ: EventTimerCanceled, attrs: &TimerCanceled{Seq: seq}, desc: fmt.Sprintf("cancels timer seq %d", seq)})
		f.Set(nil, ErrCanceled)
	})
	return f
}

// Sleep blocks for d of workflow time (durably). It returns ErrCanceled if
// ctx is cancelled first.
func Sleep(ctx Context, d time.Duration) error {
	return NewTimer(ctx, d).Get(ctx, nil)
}
