package enginetest_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/enginetest"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func Nap(ctx engine.Context, d time.Duration) (time.Time, error) {
	if err := engine.Sleep(ctx, d); err != nil {
		return time.Time{}, err
	}
	return engine.Now(ctx), nil
}

// A ten-minute sleep takes milliseconds, and workflow time shows the ten
// minutes exactly.
func TestSleepRunsOnTheTestClock(t *testing.T) {
	env := enginetest.New(t)
	env.RegisterWorkflow(Nap)
	began := time.Now()
	var woke time.Time
	must(env.ExecuteWorkflow(Nap, 10*time.Minute, &woke))
	if want := enginetest.DefaultStart.Add(10 * time.Minute); !woke.Equal(want) {
		t.Fatalf("woke at %s, want %s", woke, want)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("a ten-minute sleep took %s of real time", took)
	}
}

type decision struct {
	Outcome string    `json:"outcome"`
	At      time.Time `json:"at"`
}

func Approve(ctx engine.Context, timeout time.Duration) (decision, error) {
	d, err := engine.AwaitApproval(ctx, "manager", engine.ApprovalOptions{Timeout: timeout})
	if errors.Is(err, engine.ErrApprovalTimedOut) {
		return decision{Outcome: "escalated", At: engine.Now(ctx)}, nil
	}
	if err != nil {
		return decision{}, err
	}
	return decision{Outcome: map[bool]string{true: "approved", false: "rejected"}[d.Approved], At: d.At}, nil
}

// A 72-hour approval timeout fires at 72 hours of workflow time; a decision
// made at a chosen workflow time before it wins.
func TestApprovalTimeoutOnTheTestClock(t *testing.T) {
	env := enginetest.New(t)
	env.RegisterWorkflow(Approve)

	var d decision
	must(env.ExecuteWorkflow(Approve, 72*time.Hour, &d))
	if d.Outcome != "escalated" || !d.At.Equal(enginetest.DefaultStart.Add(72*time.Hour)) {
		t.Fatalf("got %+v, want escalated at 72h", d)
	}

	run := env.Start(Approve, 72*time.Hour)
	began := env.Now()
	env.AfterFunc(5*time.Hour, func() {
		must(env.Client().Decide(env.Context(), run.WorkflowID, "", "manager", true, "ok"))
	})
	must(env.Result(run, &d))
	if d.Outcome != "approved" || !d.At.Equal(began.Add(5*time.Hour)) {
		t.Fatalf("got %+v, want approved 5h after %s", d, began)
	}
}

func CallFlaky(ctx engine.Context) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Minute, BackoffCoefficient: 3, MaximumAttempts: 5}})
	var s string
	err := engine.ExecuteActivity(ctx, Flaky, nil).Get(ctx, &s)
	return s, err
}

func Flaky(ctx context.Context) (string, error) { return "", errors.New("the real one always fails") }

// Retry backoff runs on the test clock, and an activity can be replaced.
func TestRetryBackoffAndReplacedActivity(t *testing.T) {
	env := enginetest.New(t)
	env.RegisterWorkflow(CallFlaky)
	env.RegisterActivity(Flaky)
	var calls atomic.Int32
	var at [3]time.Time
	env.OnActivity(Flaky, func(ctx context.Context) (string, error) {
		n := calls.Add(1)
		at[n-1] = env.Now()
		if n < 3 {
			return "", errors.New("transient")
		}
		return "third time", nil
	})
	var s string
	must(env.ExecuteWorkflow(CallFlaky, nil, &s))
	if s != "third time" {
		t.Fatalf("result %q", s)
	}
	// 1 minute after the first attempt, then 3 minutes after the second
	if g1, g2 := at[1].Sub(at[0]), at[2].Sub(at[1]); g1 != time.Minute || g2 != 3*time.Minute {
		t.Fatalf("attempts %v apart, then %v; want 1m then 3m", g1, g2)
	}
}

// Advance moves time by a given amount: a run sleeping an hour is still
// asleep after 59 minutes and done after 60.
func TestAdvance(t *testing.T) {
	env := enginetest.New(t)
	env.RegisterWorkflow(Nap)
	run := env.Start(Nap, time.Hour)
	env.Advance(59 * time.Minute)
	x, err := env.Client().Describe(env.Context(), run.WorkflowID, "")
	must(err)
	if x.Status != engine.StatusRunning || len(x.Timers) != 1 {
		t.Fatalf("after 59m: %s, timers %+v", x.Status, x.Timers)
	}
	env.Advance(time.Minute)
	x, err = env.Client().Describe(env.Context(), run.WorkflowID, "")
	must(err)
	if x.Status != engine.StatusCompleted {
		t.Fatalf("after 60m: %s", x.Status)
	}
}
