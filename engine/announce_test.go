package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func announceWF(ctx engine.Context) error { return nil }

func announceAct(ctx context.Context, in string) (string, error) { return in, nil }

// workersOn lists the announced workers of queue.
func workersOn(t *testing.T, c *engine.Client, queue string) []engine.WorkerAnnouncement {
	t.Helper()
	ws, err := c.ListWorkers(context.Background())
	if err != nil {
		t.Fatalf("listing workers: %v", err)
	}
	var out []engine.WorkerAnnouncement
	for _, w := range ws {
		if w.Queue == queue {
			out = append(out, w)
		}
	}
	return out
}

// A started worker is listed at once with what it runs; Stop takes it off
// at once.
func TestWorkerAnnouncesAndWithdraws(t *testing.T) {
	h := newHarness(t)
	w := h.worker("announce-q", engine.WorkerOptions{Identity: "w-1", Version: "v9.9.9", MaxConcurrentActivities: 7}, func(w *engine.Worker) {
		_ = w.RegisterWorkflow(announceWF)
		_ = w.RegisterActivity(announceAct)
	})
	ws := workersOn(t, h.client, "announce-q")
	if len(ws) != 1 {
		t.Fatalf("workers of announce-q after Start: %+v, want one", ws)
	}
	a := ws[0]
	if a.Identity != "w-1" || a.Version != "v9.9.9" || a.ActivitySlots.Max != 7 || a.WorkflowSlots.Max != 64 ||
		len(a.Workflows) != 1 || len(a.Activities) != 1 || a.LastSeen.IsZero() || !a.ExpiresAt.After(a.LastSeen) {
		t.Fatalf("announcement %+v", a)
	}
	if got := engine.NoWorkerReason(&engine.Execution{Status: engine.StatusRunning, TaskQueue: "announce-q"}, engine.PolledBy(ws)); got != "" {
		t.Fatalf("a polled queue has a no-worker reason: %q", got)
	}
	w.Stop()
	if ws := workersOn(t, h.client, "announce-q"); len(ws) != 0 {
		t.Fatalf("workers of announce-q after Stop: %+v, want none", ws)
	}
}

// A run on a queue nobody polls says so; once a worker polls it, not.
func TestNoWorkerReason(t *testing.T) {
	h := newHarness(t)
	run, err := h.client.Start(h.ctx, engine.StartOptions{ID: "nobody-polls", TaskQueue: "orphan-q"}, "announceWF", nil)
	if err != nil {
		t.Fatal(err)
	}
	events, err := h.client.History(h.ctx, "nobody-polls", run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	x := engine.Summarize(events)
	ws, err := h.client.ListWorkers(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := engine.NoWorkerReason(x, engine.PolledBy(ws)), "no worker polling queue orphan-q"; got != want {
		t.Fatalf("reason %q, want %q", got, want)
	}
	// An activity-only worker does not take workflow tasks.
	h.worker("orphan-q", engine.WorkerOptions{}, func(w *engine.Worker) { _ = w.RegisterActivity(announceAct) })
	ws, _ = h.client.ListWorkers(h.ctx)
	if got := engine.NoWorkerReason(x, engine.PolledBy(ws)); got != "no worker polling queue orphan-q" {
		t.Fatalf("with an activity worker only: reason %q", got)
	}
}

// A killed worker process stops announcing; its entry expires within the
// TTL (three announce intervals).
func TestKilledWorkerExpires(t *testing.T) {
	if os.Getenv("FOREMAN_ANNOUNCE_HELPER") != "" {
		t.Skip("helper process")
	}
	store, srv := jstest.Start(t)
	c := engine.NewClient(store, engine.ClientOptions{})
	cmd := exec.Command(os.Args[0], "-test.run=^TestAnnounceHelperProcess$")
	cmd.Env = append(os.Environ(), "FOREMAN_ANNOUNCE_HELPER="+srv.ClientURL())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	jstest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if n := len(workersOn(t, c, "killed-q")); n != 1 {
			return fmt.Errorf("%d workers on killed-q, want 1", n)
		}
		return nil
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// TTL 3 s; the server's expiry runs on a one-second clock.
	jstest.CheckFor(t, 6*time.Second, 100*time.Millisecond, func() error {
		if n := len(workersOn(t, c, "killed-q")); n != 0 {
			return fmt.Errorf("%d workers on killed-q %s after the kill, want 0", n, time.Since(killed).Round(time.Millisecond))
		}
		return nil
	})
	// Not just hidden by its expiry time: the store dropped it.
	raw, err := store.ListWorkers(context.Background())
	jstest.CheckFor(t, 3*time.Second, 100*time.Millisecond, func() error {
		raw, err = store.ListWorkers(context.Background())
		if err != nil || len(raw) != 0 {
			return fmt.Errorf("store still holds %d entries (err %v)", len(raw), err)
		}
		return nil
	})
}

// TestAnnounceHelperProcess is the worker process TestKilledWorkerExpires
// kills: it runs only when that test starts it.
func TestAnnounceHelperProcess(t *testing.T) {
	url := os.Getenv("FOREMAN_ANNOUNCE_HELPER")
	if url == "" {
		t.Skip("run by TestKilledWorkerExpires")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := jetstream.Options{NoAuth: true}
	nc, err := jetstream.Connect(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	store, err := jetstream.OpenExisting(ctx, nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	w := engine.NewWorker(store, "killed-q", engine.WorkerOptions{AnnounceInterval: time.Second, Logger: quietLogger()})
	_ = w.RegisterWorkflow(announceWF)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done() // killed before
}
