package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

type activityOptionsKey struct{}

// WithActivityOptions returns a context whose activity calls use opts.
func WithActivityOptions(ctx Context, opts ActivityOptions) Context {
	return WithValue(ctx, activityOptionsKey{}, opts)
}

// ExecuteActivity schedules an activity (a registered function or its type
// name) with one input value and returns a future of its result. Cancelling
// ctx cancels the activity: its future fails with ErrCanceled at once and
// the running attempt's context is cancelled.
func ExecuteActivity(ctx Context, activity any, input any) Future {
	wc := mustCtx(ctx)
	env := wc.env
	name := FuncName(activity)
	opts, _ := wc.Value(activityOptionsKey{}).(ActivityOptions)
	if opts.TaskQueue == "" {
		opts.TaskQueue = env.info.TaskQueue
	}
	if opts.StartToCloseTimeout <= 0 && opts.ScheduleToCloseTimeout <= 0 {
		opts.StartToCloseTimeout = DefaultStartToCloseTimeout
	}
	f := &futureImpl{}
	if err := CheckTaskQueue(opts.TaskQueue); err != nil {
		// Refused here, before any command: a scheduled activity on a
		// queue the store cannot name would stall the run forever.
		f.Set(nil, fmt.Errorf("activity %s: %w", name, err))
		return f
	}
	raw, err := encodePayload(input, "input of activity "+name)
	if err != nil {
		f.Set(nil, err) // deterministic: the same input fails the same way on replay
		return f
	}
	seq := env.nextSeq()
	st := &activityState{seq: seq, typ: name, opts: opts, input: raw, scheduledAt: env.now, attempt: 1, future: f}
	f.desc = func() string { return st.describe(env.clock.Now()) }
	env.activities[seq] = st
	env.addCommand(&command{
		typ:   EventActivityScheduled,
		attrs: &ActivityScheduled{Seq: seq, ActivityType: name, TaskQueue: opts.TaskQueue, Input: raw, Options: opts},
		desc:  fmt.Sprintf("schedules activity %s (seq %d)", name, seq),
	})
	st.uncancel = wc.cancel.onCancel(func() {
		if st.done {
			return
		}
		st.done = true
		env.addCommand(&command{typ: EventActivityCancelRequested, attrs: &ActivityCancelRequested{Seq: seq},
			desc: fmt.Sprintf("cancels activity %s (seq %d)", name, seq)})
		f.Set(nil, fmt.Errorf("activity %s: %w", name, ErrCanceled))
	})
	return f
}

// describe says what a workflow waiting on this activity waits for.
func (st *activityState) describe(now time.Time) string {
	s := fmt.Sprintf("activity %s attempt %d", st.typ, st.attempt)
	if st.lastFailure != nil {
		s += fmt.Sprintf(", last failure: %s", truncate(st.lastFailure.Error(), 120))
	}
	if !st.nextAttempt.IsZero() && st.nextAttempt.After(now) {
		s += fmt.Sprintf(", next retry in %s", st.nextAttempt.Sub(now).Round(time.Second))
	}
	return s
}

// MaxPayloadBytes bounds one input, result, signal payload or query
// argument. Larger payloads are refused with a clear, non-retryable error.
const MaxPayloadBytes = 2 << 20

func encodePayload(v any, what string) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, NewApplicationError("BadPayload", what+" is not valid JSON", true)
		}
		return checkPayload(raw, what)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, NewApplicationError("BadPayload", fmt.Sprintf("encoding %s: %v", what, err), true)
	}
	return checkPayload(raw, what)
}

func checkPayload(raw json.RawMessage, what string) (json.RawMessage, error) {
	if len(raw) > MaxPayloadBytes {
		return nil, &ApplicationError{Type: CodePayloadTooLarge, NonRetryable: true,
			Message: fmt.Sprintf("[%s] %s is %d bytes, over the %d-byte limit", CodePayloadTooLarge, what, len(raw), MaxPayloadBytes)}
	}
	return raw, nil
}
