package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// queuesCommand prints what the console's :queues shows: each task queue's
// announced workers, stored tasks, oldest task and running runs, with the
// queues no worker polls first.
var queuesCommand = &command{
	name: "queues", group: groupHealth,
	summary: "task queues: workers, backlog, oldest task, running runs; flags those no worker polls",
	flags:   func(fs *flag.FlagSet, o *opts) {},
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		if len(args) > 0 {
			return usagef("queues takes no arguments, got %q", args)
		}
		if err := a.connect(ctx); err != nil {
			return err
		}
		p, err := searchapi.NewClient(a.node.Store).Pulse(ctx, searchapi.PulseRequest{Seconds: 1})
		if err != nil {
			return fmt.Errorf("reading the queues from foreman-engine: %w", err)
		}
		if a.out.format != formatTable {
			return a.out.value(p.Queues)
		}
		t := &table{header: []string{"QUEUE", "WORKERS", "WF TASKS", "ACT TASKS", "OLDEST", "RUNNING", ""}}
		for _, q := range p.Queues {
			flag, oldest := "", "-"
			if q.NoWorker {
				flag = "no worker"
			}
			if q.OldestTaskMS > 0 {
				oldest = roundAge(time.Duration(q.OldestTaskMS * float64(time.Millisecond))).String()
			}
			t.add(q.Queue, fmt.Sprint(max(q.WorkflowPollers, q.ActivityPollers)), fmt.Sprint(q.WorkflowTasks), fmt.Sprint(q.ActivityTasks), oldest, fmt.Sprint(q.Running), flag)
		}
		if len(p.Queues) == 0 {
			fmt.Fprintln(a.io.err, "no task queue has workers, tasks or running runs")
			return nil
		}
		if err := t.print(a.io.out); err != nil {
			return err
		}
		wt := &table{header: []string{"QUEUE", "WORKER", "VERSION", "WF SLOTS", "ACT SLOTS", "LAST SEEN"}}
		for _, q := range p.Queues {
			for _, w := range q.Workers {
				wt.add(q.Queue, w.Identity, w.Version, slots(w.WorkflowSlots), slots(w.ActivitySlots), roundAge(p.At.Sub(w.LastSeen)).String()+" ago")
			}
		}
		if len(wt.rows) == 0 {
			return nil
		}
		fmt.Fprintln(a.io.out)
		return wt.print(a.io.out)
	},
}

// roundAge keeps milliseconds under a second and whole seconds above.
func roundAge(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

func slots(s [2]int) string {
	if s[1] == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", s[0], s[1])
}

// Pulse reads the engine's health figures (the console's :pulse and
// :queues, and its no-worker reasons).
func (b *backend) Pulse(ctx context.Context, req searchapi.PulseRequest) (searchapi.Pulse, error) {
	return guarded(b, ctx, func(c context.Context) (searchapi.Pulse, error) { return searchapi.NewClient(b.store).Pulse(c, req) })
}

// noWorkerReason says when no announced worker polls a queue x waits on;
// "" when one does, or when the engine cannot say (one from before worker
// announcements). It asks the engine's pulse API, as the console does,
// rather than read the workers bucket: every role that may search may ask.
func noWorkerReason(ctx context.Context, a *app, x *engine.Execution) string {
	if x.Status != engine.StatusRunning {
		return ""
	}
	p, err := searchapi.NewClient(a.node.Store).Pulse(ctx, searchapi.PulseRequest{Seconds: 1})
	if err != nil {
		return ""
	}
	return engine.NoWorkerReason(x, p.Polls)
}
