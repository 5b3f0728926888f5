package engine_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// eagerClaims counts the history batches of a run whose header claims
// activity attempts for the worker that appended them (run at once there).
func (c *cluster) eagerClaims(id string) int {
	c.t.Helper()
	run, _, err := c.store.GetRun(c.ctx, id)
	if err != nil {
		c.t.Fatal(err)
	}
	batches, err := c.store.ReadHistory(c.ctx, run.RunID, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	n := 0
	for _, b := range batches {
		if b.Header.Eager != "" {
			n++
		}
	}
	return n
}

// The worker whose workflow task schedules an activity on its own queue
// runs it at once (eagerly); the activity task the dispatcher still
// derives only guards that attempt. Two activity-only workers share the
// queue, so most guards land on a worker that does not run the attempt:
// it must not run it too, whether the owner is still running it (it asks
// the owner, and hands the guard back) or has finished. Every activity
// runs exactly once, on the owner, and no attempt is recorded lost.
func TestEagerActivityRunsOnceWhereverItsGuardLands(t *testing.T) {
	c := newCluster(t, jetstream.Options{}, 3)
	var mu sync.Mutex
	ran := map[string][]string{} // "workflow/activity" -> workers that ran it
	register := func(name string, workflows bool) func(*engine.Worker) {
		return func(w *engine.Worker) {
			if workflows {
				must(w.RegisterWorkflowWithName("StepsHere", StepsHere))
			}
			for _, step := range []any{Reserve, Charge, Ship} {
				must(w.RegisterActivityWithName(engine.FuncName(step), func(ctx context.Context, o order) (string, error) {
					info := engine.GetActivityInfo(ctx)
					mu.Lock()
					key := info.WorkflowID + "/" + info.ActivityType
					ran[key] = append(ran[key], name)
					mu.Unlock()
					time.Sleep(150 * time.Millisecond) // the guard arrives while it runs
					return step.(func(context.Context, order) (string, error))(ctx, o)
				}))
			}
		}
	}
	c.process("owner", "wf", register("owner", true))
	c.process("other-1", "wf", register("other-1", false))
	c.process("other-2", "wf", register("other-2", false))
	ids := c.startRunsOf("StepsHere", "eager", 12)
	c.waitAll(ids, 60*time.Second)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		for _, step := range []any{Reserve, Charge, Ship} {
			key := id + "/" + engine.FuncName(step)
			if got := ran[key]; len(got) != 1 || got[0] != "owner" {
				t.Errorf("%s ran on %v, want once on the owner", key, got)
			}
		}
		if n := c.eagerClaims(id); n != 3 {
			t.Errorf("%s: %d batches claim an eager attempt, want 3", id, n)
		}
		events, err := c.client.History(c.ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if n := count(events, engine.EventActivityAttemptFailed); n != 0 {
			t.Errorf("%s: %d attempts recorded failed, want none\n%s", id, n, c.dump(id))
		}
	}
}

// The worker running an eager attempt dies in the middle of it (its
// connection drops: nothing more is acked or answered). The attempt's
// guard finds the owner gone: the attempt is recorded lost (WorkerLost)
// and the retry runs exactly once, on the surviving worker; the run
// completes with the retry's result, never the dead attempt's.
func TestEagerActivityLostWithItsWorkerRunsAgainOnce(t *testing.T) {
	c := newCluster(t, jetstream.Options{AckWait: time.Second}, 2)
	var execs atomic.Int32
	ranOn := make(chan int, 1)
	release := make(chan struct{})
	register := func(i int) func(*engine.Worker) {
		return func(w *engine.Worker) {
			must(w.RegisterWorkflowWithName("Once", func(ctx engine.Context) (string, error) {
				ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 30 * time.Second,
					RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond}})
				var s string
				err := engine.ExecuteActivity(ctx, "step", nil).Get(ctx, &s)
				return s, err
			}))
			must(w.RegisterActivityWithName("step", func(ctx context.Context) (string, error) {
				if execs.Add(1) == 1 {
					ranOn <- i
					<-release // dies with its worker
					return "from the dead worker", nil
				}
				return "retried", nil
			}))
		}
	}
	procs := []*process{c.process("a", "wf", register(0)), c.process("b", "wf", register(1))}
	t.Cleanup(func() { close(release) }) // before the workers' Stop
	if _, err := c.client.Start(c.ctx, engine.StartOptions{ID: "lost", TaskQueue: "wf"}, "Once", nil); err != nil {
		t.Fatal(err)
	}
	var owner int
	select {
	case owner = <-ranOn:
	case <-time.After(20 * time.Second):
		t.Fatal("the activity never ran")
	}
	procs[owner].kill()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	var res string
	if err := c.client.GetResult(ctx, "lost", "", &res); err != nil || res != "retried" {
		t.Fatalf("result %q, %v; want %q\n%s", res, err, "retried", c.dump("lost"))
	}
	time.Sleep(1500 * time.Millisecond) // an extra execution would show meanwhile
	if n := execs.Load(); n != 2 {
		t.Fatalf("the activity ran %d times, want 2 (the lost attempt and its retry)", n)
	}
	if n := c.eagerClaims("lost"); n != 1 {
		t.Fatalf("%d batches claim an eager attempt, want 1", n)
	}
	events, err := c.client.History(c.ctx, "lost", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		switch a := e.Attrs.(type) {
		case *engine.ActivityAttemptFailed:
			got = append(got, fmt.Sprintf("failed %d %s", a.Attempt, a.Failure.Type))
		case *engine.ActivityCompleted:
			got = append(got, fmt.Sprintf("completed %d", a.Attempt))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{"failed 1 " + engine.FailureWorkerLost, "completed 2"}) {
		t.Fatalf("attempts %v, want attempt 1 lost and attempt 2 completed\n%s", got, c.dump("lost"))
	}
}
