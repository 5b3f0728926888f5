package flow

import (
	"context"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// UpdateSlowness is how long the activity of an update's handler takes:
// long enough for the crash test to kill the host between the update's
// acceptance and its completion.
const UpdateSlowness = 1500 * time.Millisecond

// Slow is the update handler's activity: it sleeps UpdateSlowness.
func Slow(ctx context.Context, n int) (int, error) {
	select {
	case <-time.After(UpdateSlowness):
		return n, nil
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

// Counter counts the updates "bump" it completes: each runs Slow, then adds
// one and returns the new count. The signal "stop" ends it with the count,
// so a handler run twice (or never) after a crash shows in the result.
func Counter(ctx engine.Context) (int, error) {
	count := 0
	actx := engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	err := engine.SetUpdateHandler(ctx, "bump", func(ctx engine.Context) (int, error) {
		if err := engine.ExecuteActivity(actx, Slow, count).Get(ctx, nil); err != nil {
			return 0, err
		}
		count++
		return count, nil
	}, engine.UpdateHandlerOptions{})
	if err != nil {
		return 0, err
	}
	engine.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
	return count, nil
}

func registerUpdates(w *engine.Worker) error {
	if err := w.RegisterWorkflow(Counter); err != nil {
		return err
	}
	return w.RegisterActivity(Slow)
}
