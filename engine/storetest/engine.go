package storetest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

var engineTests = []test{
	{"WorkflowWithActivityAndTimer", testWorkflowEndToEnd},
	{"TimerDueWhileStoppedFiresOnStart", testPastDueTimer},
}

// sleepFor is the workflow's timer: long enough to tell early from due.
const sleepFor = time.Second

func greet(_ context.Context, who string) (string, error) { return "hello " + who, nil }

// greetLater calls an activity, sleeps on a durable timer, and returns
// the activity's result.
func greetLater(ctx engine.Context, who string) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var s string
	if err := engine.ExecuteActivity(ctx, "conformance-greet", who).Get(ctx, &s); err != nil {
		return "", err
	}
	if err := engine.Sleep(ctx, sleepFor); err != nil {
		return "", err
	}
	return s, nil
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// services runs the engine's services on s until the returned stop.
func services(t *testing.T, s engine.Store) (stop func() error) {
	t.Helper()
	return background(t, func(ctx context.Context) error { return engine.RunServices(ctx, s, discard) })
}

// startWorker runs a worker for greetLater on s until the test ends.
func startWorker(t *testing.T, s engine.Store) {
	t.Helper()
	w := engine.NewWorker(s, "conformance", engine.WorkerOptions{Logger: discard, ShutdownTimeout: 2 * time.Second})
	if err := w.RegisterWorkflowWithName("conformance-greet-later", greetLater); err != nil {
		t.Fatal(err)
	}
	if err := w.RegisterActivityWithName("conformance-greet", greet); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}

func startGreeting(t *testing.T, c *engine.Client, id string) {
	t.Helper()
	if _, err := c.Start(testCtx(t), engine.StartOptions{ID: id, TaskQueue: "conformance"}, "conformance-greet-later", "store"); err != nil {
		t.Fatalf("starting %s: %v", id, err)
	}
}

func result(t *testing.T, c *engine.Client, id string, within time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), within)
	defer cancel()
	var out string
	if err := c.GetResult(ctx, id, "", &out); err != nil {
		t.Fatalf("result of %s: %v", id, err)
	}
	return out
}

// The engine runs a workflow on the store: the activity's result comes
// back, and the durable timer fires when due, not before.
func testWorkflowEndToEnd(t *testing.T, s engine.Store) {
	services(t, s)
	startWorker(t, s)
	c := engine.NewClient(s, engine.ClientOptions{Identity: "conformance"})
	started := time.Now()
	startGreeting(t, c, "greeting")
	if got := result(t, c, "greeting", waitLong); got != "hello store" {
		t.Fatalf("result %q, want \"hello store\"", got)
	}
	if took := time.Since(started); took < sleepFor {
		t.Fatalf("the workflow closed %s after its start: its %s timer fired early", took, sleepFor)
	}
	if _, err := c.Start(testCtx(t), engine.StartOptions{ID: "greeting", TaskQueue: "conformance", IDReusePolicy: engine.RejectDuplicate}, "conformance-greet-later", "again"); !errors.Is(err, engine.ErrAlreadyStarted) {
		t.Fatalf("second start of a workflow id with reject_duplicate: %v, want ErrAlreadyStarted", err)
	}
}

// A timer that fell due while the engine's services were stopped fires as
// soon as they start again.
func testPastDueTimer(t *testing.T, s engine.Store) {
	stop := services(t, s)
	startWorker(t, s)
	c := engine.NewClient(s, engine.ClientOptions{Identity: "conformance"})
	startGreeting(t, c, "greeting")
	timers := watchTimers(t, s)
	eventually(t, func() error { // the sleep, not the activity's 10 s timeout
		timers.mu.Lock()
		defer timers.mu.Unlock()
		for _, tm := range timers.seen {
			if tm.FireAt.Before(time.Now().Add(2 * sleepFor)) {
				return nil
			}
		}
		return errors.New("the workflow's timer is not stored yet")
	})
	_ = timers.stop()
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("services: %v", err)
	}
	time.Sleep(sleepFor + 200*time.Millisecond) // the timer falls due meanwhile
	restarted := time.Now()
	services(t, s)
	if got := result(t, c, "greeting", waitLong); got != "hello store" {
		t.Fatalf("result %q, want \"hello store\"", got)
	}
	if took := time.Since(restarted); took > 5*time.Second {
		t.Fatalf("a timer due before the services started fired %s after they did, want at once", took)
	}
}
