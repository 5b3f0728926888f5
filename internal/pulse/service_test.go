package pulse_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/pulse"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/visibility"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

func PulseFlow(ctx engine.Context, n int) (int, error) {
	var out int
	err := engine.ExecuteActivity(ctx, PulseStep, n).Get(ctx, &out)
	return out, err
}

func PulseStep(ctx context.Context, n int) (int, error) { return n + 1, nil }

func sum(v []uint32) (t uint64) {
	for _, x := range v {
		t += uint64(x)
	}
	return t
}

// A real engine under a small load: the pulse API reports the starts and
// completions, both latencies, the worker, and the queue nobody polls.
func TestPulseUnderLoad(t *testing.T) {
	store, _ := jstest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	ix, err := visibility.OpenIndex(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	counters := pulse.NewCounters(nil)
	done := make(chan struct{}, 2)
	go func() {
		_ = visibility.NewIndexer(ix, store, visibility.IndexerOptions{Logger: log, OnEvents: counters.Observe}).Run(ctx)
		done <- struct{}{}
	}()
	go func() { _ = engine.RunServices(ctx, store, log); done <- struct{}{} }()
	stop, err := pulse.Start(ctx, counters, ix, store, log)
	if err != nil {
		t.Fatal(err)
	}
	w := engine.NewWorker(store, "pulse-q", engine.WorkerOptions{Identity: "pulse-worker", AnnounceInterval: 200 * time.Millisecond, Logger: log})
	_ = w.RegisterWorkflow(PulseFlow)
	_ = w.RegisterActivity(PulseStep)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Stop()
		stop()
		cancel()
		<-done
		<-done
		_ = ix.Close()
	})

	c := engine.NewClient(store, engine.ClientOptions{Identity: "tester"})
	const runs = 20
	for i := range runs {
		if _, err := c.Start(ctx, engine.StartOptions{ID: fmt.Sprintf("pulse-%d", i), TaskQueue: "pulse-q"}, PulseFlow, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Start(ctx, engine.StartOptions{ID: "orphan", TaskQueue: "orphan-q"}, PulseFlow, 0); err != nil {
		t.Fatal(err)
	}
	api := searchapi.NewClient(store)
	var p searchapi.Pulse
	jstest.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		p, err = api.Pulse(ctx, searchapi.PulseRequest{Seconds: 60})
		if err != nil {
			return err
		}
		switch {
		case len(p.Started) != 60:
			return fmt.Errorf("series of %d seconds, want 60", len(p.Started))
		// Exact: each start and close is counted once, however the
		// indexer's windows cut the batches.
		case sum(p.Started) != runs+1:
			return fmt.Errorf("started %d, want %d", sum(p.Started), runs+1)
		case sum(p.Completed) != runs:
			return fmt.Errorf("completed %d, want %d", sum(p.Completed), runs)
		case p.RunDuration.Count < runs || p.RunDuration.P99MS <= 0:
			return fmt.Errorf("run duration %+v", p.RunDuration)
		// First deliveries only: a redelivered task (a slow machine)
		// is not counted, so at least most.
		case p.ScheduleToStart.Count < runs/2:
			return fmt.Errorf("schedule to start %+v", p.ScheduleToStart)
		case p.WorkflowScheduleToStart.Count < runs:
			return fmt.Errorf("workflow schedule to start %+v", p.WorkflowScheduleToStart)
		case p.Workers != 1:
			return fmt.Errorf("%d workers, want 1", p.Workers)
		}
		byName := map[string]searchapi.QueueHealth{}
		for _, q := range p.Queues {
			byName[q.Queue] = q
		}
		if q := byName["pulse-q"]; q.WorkflowPollers != 1 || q.ActivityPollers != 1 || q.NoWorker || len(q.Workers) != 1 || q.Workers[0].Identity != "pulse-worker" {
			return fmt.Errorf("pulse-q %+v", q)
		}
		if q := byName["orphan-q"]; !q.NoWorker || q.WorkflowTasks != 1 || q.OldestTaskMS <= 0 || q.Running != 1 {
			return fmt.Errorf("orphan-q %+v", q)
		}
		return nil
	})
	if len(p.Errors) > 0 {
		t.Fatalf("errors: %v", p.Errors)
	}
	// The stopped worker leaves the queue workerless at the next refresh.
	w.Stop()
	jstest.CheckFor(t, 5*time.Second, 200*time.Millisecond, func() error {
		p, err = api.Pulse(ctx, searchapi.PulseRequest{})
		if err != nil {
			return err
		}
		if p.Workers != 0 {
			return fmt.Errorf("%d workers after Stop", p.Workers)
		}
		return nil
	})
}
