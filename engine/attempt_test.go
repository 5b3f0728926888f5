package engine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/enginetest"
	"github.com/foremanhq/foreman/jetstream"
)

// attemptsOf lists, in history order, how each attempt of activity seq 1
// ended: the failure type (or timeout type) of failed attempts, "ok" for
// the completed one.
func attemptsOf(events []engine.Event) (ends []string, attempts []int) {
	for _, e := range events {
		switch a := e.Attrs.(type) {
		case *engine.ActivityAttemptFailed:
			end := a.Failure.Type
			if a.Failure.TimeoutType != "" {
				end = a.Failure.TimeoutType
			}
			ends, attempts = append(ends, end), append(attempts, a.Attempt)
		case *engine.ActivityFailed:
			ends, attempts = append(ends, "final:"+a.Failure.Type), append(attempts, a.Attempt)
		case *engine.ActivityCompleted:
			ends, attempts = append(ends, "ok"), append(attempts, a.Attempt)
		}
	}
	return ends, attempts
}

func fastRetry(s2c time.Duration) engine.ActivityOptions {
	return engine.ActivityOptions{StartToCloseTimeout: s2c,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 5}}
}

// An activity that ignores its context and returns a success after its
// start-to-close deadline is a timeout, never a success (FAILURE-MODES
// 16): the attempt is recorded as timed out and retried, and its late
// result is not recorded.
func TestLateSuccessIsATimeout(t *testing.T) {
	env := newTestEnv(t)
	testOver, over := context.WithCancel(context.Background())
	t.Cleanup(over)
	var calls atomic.Int32
	env.RegisterWorkflowWithName("Late", callOnce(fastRetry(150*time.Millisecond), "late"))
	env.RegisterActivityWithName("late", func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			// ignores ctx: only the end of the test cuts its 400 ms short
			ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			defer context.AfterFunc(testOver, cancel)()
			_ = enginetest.Sleep(ictx, 400*time.Millisecond)
			return "late success", nil
		}
		return "in time", nil
	})
	run := env.Start("Late", nil)
	var s string
	must(env.Result(run, &s))
	events := env.History(run)
	ends, attempts := attemptsOf(events)
	if s != "in time" || len(ends) != 2 || ends[0] != "start_to_close" || attempts[0] != 1 || ends[1] != "ok" || attempts[1] != 2 {
		t.Fatalf("result %q, attempts %v %v; want a start_to_close timeout of attempt 1, then attempt 2 ok\n%s", s, ends, attempts, dumpEvents(events))
	}
}

// An activity that never returns gives its worker slot back at its
// deadline: with one slot, the retry still runs and the run completes.
func TestNeverReturningActivityFreesItsSlot(t *testing.T) {
	env := newTestEnv(t, enginetest.WithWorkerOptions(engine.WorkerOptions{MaxConcurrentActivities: 1, ShutdownTimeout: time.Second}))
	var calls atomic.Int32
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	env.RegisterWorkflowWithName("Stuck", callOnce(fastRetry(200*time.Millisecond), "stuck"))
	env.RegisterActivityWithName("stuck", func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			_ = enginetest.WaitForTimeout(ctx)
			<-block // never returns while the test runs, whatever ctx says
		}
		return "second", nil
	})
	run := env.Start("Stuck", nil)
	var s string
	must(env.Result(run, &s))
	if ends, attempts := attemptsOf(env.History(run)); s != "second" || len(ends) != 2 || ends[0] != "start_to_close" || attempts[1] != 2 {
		t.Fatalf("result %q, attempts %v %v\n%s", s, ends, attempts, dumpEvents(env.History(run)))
	}
}

// A worker that dies in the middle of an activity (its connection drops:
// no result, no lease extension) leaves an attempt that the engine records
// as lost; the retry is a new attempt number, so history tells the two
// executions apart, and the lost one's late result would be refused.
func TestWorkerDeathIsAFailedAttempt(t *testing.T) {
	c := newCluster(t, jetstream.Options{AckWait: time.Second}, 3)
	var calls atomic.Int32
	started := make(chan struct{})
	release := make(chan struct{})
	opts := engine.ActivityOptions{TaskQueue: "wf-acts", StartToCloseTimeout: time.Minute,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 3}}
	act := func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			close(started)
			<-release // the dying worker's attempt never reports
			return "from the dead", nil
		}
		return "attempt " + itoa(engine.GetActivityInfo(ctx).Attempt), nil
	}
	c.process("wf", "wf", func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Once", callOnce(opts, "act"))) })
	dying := c.process("acts-a", "wf-acts", func(w *engine.Worker) { must(w.RegisterActivityWithName("act", act)) })
	t.Cleanup(func() { close(release) }) // before the dead worker's Stop: lets its attempt end
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "lost", TaskQueue: "wf"}, "Once", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the activity never started")
	}
	dying.kill()
	killed := time.Now()
	c.process("acts-b", "wf-acts", func(w *engine.Worker) { must(w.RegisterActivityWithName("act", act)) })
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	var s string
	if err := c.client.GetResult(ctx, "lost", "", &s); err != nil {
		t.Fatal(err)
	}
	t.Logf("result %s after the kill", time.Since(killed).Round(time.Millisecond))
	events, err := c.client.History(ctx, "lost", "")
	if err != nil {
		t.Fatal(err)
	}
	ends, attempts := attemptsOf(events)
	if s != "attempt 2" || len(ends) != 2 || ends[0] != engine.FailureWorkerLost || attempts[0] != 1 || ends[1] != "ok" || attempts[1] != 2 {
		t.Fatalf("result %q, attempts %v %v; want attempt 1 lost, attempt 2 ok", s, ends, attempts)
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// Schedule-to-start is the engine's: an attempt that no worker takes (no
// worker polls its queue) times out on time, and an attempt taken in time
// is not timed out by it however long it then runs.
func TestScheduleToStartFiresWithoutAnyWorker(t *testing.T) {
	env := newTestEnv(t)
	nobody := engine.ActivityOptions{TaskQueue: "nobody-polls", ScheduleToStartTimeout: 300 * time.Millisecond}
	taken := engine.ActivityOptions{ScheduleToStartTimeout: 300 * time.Millisecond, StartToCloseTimeout: 5 * time.Second}
	env.RegisterWorkflowWithName("Orphan", callOnce(nobody, "orphan"))
	env.RegisterWorkflowWithName("Taken", callOnce(taken, "slow"))
	env.RegisterActivityWithName("slow", func(ctx context.Context) (string, error) {
		return "done", enginetest.Sleep(ctx, 700*time.Millisecond) // longer than schedule-to-start
	})
	orphan := env.Start("Orphan", nil)
	err := env.Result(orphan, nil)
	events := env.History(orphan)
	ends, _ := attemptsOf(events)
	if err == nil || len(ends) != 1 || ends[0] != "final:TimeoutError" {
		t.Fatalf("orphan: %v, attempts %v\n%s", err, ends, dumpEvents(events))
	}
	if d := events[len(events)-1].Time.Sub(events[0].Time); d != 300*time.Millisecond {
		t.Fatalf("schedule-to-start of 300ms fired after %s", d)
	}
	var s string
	tk := env.Start("Taken", nil)
	must(env.Result(tk, &s))
	if ends, _ := attemptsOf(env.History(tk)); s != "done" || len(ends) != 1 || ends[0] != "ok" {
		t.Fatalf("taken: %q, attempts %v\n%s", s, ends, dumpEvents(env.History(tk)))
	}
}

// A cancelled activity that ignores its context gives its slot back at
// once (its result would be dropped anyway): with one slot, the next
// activity runs without waiting for the first one's deadline.
func TestCancelledActivityFreesItsSlot(t *testing.T) {
	h := newHarness(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	started := make(chan struct{}, 1)
	wf := func(ctx engine.Context) (string, error) {
		actx, cancel := engine.WithCancel(ctx)
		f := engine.ExecuteActivity(engine.WithActivityOptions(actx, engine.ActivityOptions{StartToCloseTimeout: time.Minute}), "deaf", nil)
		engine.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
		cancel()
		_ = f.Get(ctx, nil)
		var s string
		err := engine.ExecuteActivity(engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: time.Minute}), "quick", nil).Get(ctx, &s)
		return s, err
	}
	h.worker("q", engine.WorkerOptions{MaxConcurrentActivities: 1}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Deaf", wf))
		must(w.RegisterActivityWithName("deaf", func(ctx context.Context) (string, error) {
			started <- struct{}{}
			<-block // ignores its context
			return "late", nil
		}))
		must(w.RegisterActivityWithName("quick", func(ctx context.Context) (string, error) { return "next", nil }))
	})
	h.start("deaf", "q", "Deaf", nil)
	<-started
	must(h.client.Signal(h.ctx, "deaf", "", "stop", nil))
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	var s string
	if err := h.client.GetResult(ctx, "deaf", "", &s); err != nil || s != "next" {
		t.Fatalf("result %q %v: the cancelled activity kept the only slot", s, err)
	}
}
