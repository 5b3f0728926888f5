package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// scheduleRep measures schedule_fire_lateness_p99_ms (issue 17): the
// engine's scheduler fires cfg.schedules schedules, each every minute, for
// cfg.scheduleFor; a fire's lateness is its run's start (the
// WorkflowStarted event's time, on the server's clock) minus the fire's
// nominal time. Offsets spread the schedules evenly over the minute, as
// offsets or jitter do in a real deployment (10,000 schedules at once on
// the minute would measure one burst). No worker runs the started
// workflows (allow_all, so every fire starts a run): this measures the
// scheduler, not the workers. The number of runs must equal the number of
// fires the schedules decided, exactly, or the repetition fails.
func (e *env) scheduleRep(ctx context.Context, rep int) (map[string]float64, error) {
	if e.mode != jetstream.SyncInterval {
		e.notes = append(e.notes, fmt.Sprintf("sync %s: schedule metrics not measured (they are measured with --sync interval)", e.mode))
		return map[string]float64{}, nil
	}
	st := e.stores[0] // the services' store: the scheduler runs beside them, as in foreman-engine
	c := engine.NewClient(st, engine.ClientOptions{Identity: "bench"})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- engine.RunScheduler(sctx, st, e.log) }()
	defer func() { stop(); <-done }()

	n, prefix := e.cfg.schedules, fmt.Sprintf("sb%d-", rep)
	t0 := time.Now()
	if err := forEach(ctx, n, func(i int) error {
		return c.Schedules().Create(ctx, engine.Schedule{ID: fmt.Sprintf("%s%05d", prefix, i), Overlap: engine.OverlapAllowAll,
			Spec: engine.ScheduleSpec{Intervals: []engine.ScheduleInterval{{Every: engine.Duration(time.Minute),
				Offset: engine.Duration(time.Duration(i) * time.Minute / time.Duration(n))}}},
			Action: engine.ScheduleAction{WorkflowType: "BenchScheduled", TaskQueue: "bench-scheduled"}})
	}); err != nil {
		return nil, fmt.Errorf("creating schedules: %w", err)
	}
	e.logf("    created %d schedules in %.1fs; firing for %s", n, time.Since(t0).Seconds(), e.cfg.scheduleFor)
	select {
	case <-time.After(e.cfg.scheduleFor):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Pause them all: what fired is then final.
	if err := forEach(ctx, n, func(i int) error {
		return c.Schedules().Pause(ctx, fmt.Sprintf("%s%05d", prefix, i), "bench over")
	}); err != nil {
		return nil, fmt.Errorf("pausing schedules: %w", err)
	}
	time.Sleep(time.Second) // a pass that decided before the pause carries its start out
	want, counted, missed, skipped := 0, int64(0), int64(0), int64(0)
	all, err := c.Schedules().List(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range all {
		if !strings.HasPrefix(d.Schedule.ID, prefix) {
			continue
		}
		if len(d.Pending) > 0 {
			return nil, fmt.Errorf("schedule %s still has %d steps to carry out", d.Schedule.ID, len(d.Pending))
		}
		want += firesBetween(d.Schedule.Spec.Intervals[0], d.CreatedAt, d.LastFire)
		counted += d.Actions
		missed += d.Missed
		skipped += d.Skipped
	}
	var late []time.Duration
	var mu sync.Mutex
	err = st.ListRuns(ctx, func(wf string, rec engine.RunRecord) error {
		if !strings.HasPrefix(wf, prefix) {
			return nil
		}
		b, err := engine.DecodeBatch(rec.Start)
		if err != nil {
			return err
		}
		a, ok := b.Events[0].Attrs.(*engine.WorkflowStarted)
		if !ok || a.ScheduledBy == "" {
			return fmt.Errorf("run %s was not started by a schedule", wf)
		}
		mu.Lock()
		late = append(late, b.Events[0].Time.Sub(a.ScheduledStartTime))
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(late) != want || counted != int64(want) {
		return nil, fmt.Errorf("%d fires were due, %d runs started, %d counted (%d missed, %d skipped): not exactly once", want, len(late), counted, missed, skipped)
	}
	e.logf("    %d fires, each started once; lateness p50 %.1f ms, p99 %.1f ms, max %.1f ms", want, percentile(late, 50), percentile(late, 99), percentile(late, 100))
	return map[string]float64{"schedule_fire_lateness_p99_ms": percentile(late, 99), "schedule_fires": float64(want)}, nil
}

// firesBetween counts the fires of iv in (from, to].
func firesBetween(iv engine.ScheduleInterval, from, to time.Time) int {
	every, off := time.Duration(iv.Every), time.Duration(iv.Offset)
	k := func(t time.Time) int64 { // fires at or before t
		ns := t.UnixNano() - int64(off)
		q := ns / int64(every)
		if ns < 0 && ns%int64(every) != 0 {
			q--
		}
		return q
	}
	return int(k(to) - k(from))
}

// forEach calls fn(0..n-1) from 32 goroutines.
func forEach(ctx context.Context, n int, fn func(i int) error) error {
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error { return fn(i) })
	}
	return g.Wait()
}
