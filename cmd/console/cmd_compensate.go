package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
)

var compensateCommand = &command{
	name: "compensate", args: "WORKFLOW_ID [--wait]", group: groupAct, write: true, destructive: true,
	summary: "run the registered compensations, newest first (terminates a running run)",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		fs.StringVar(&o.reason, "reason", "", "why, recorded in history")
		fs.BoolVar(&o.wait, "wait", false, "wait until every step ran (or one failed and waits for --retry or --skip)")
		fs.BoolVar(&o.retry, "retry", false, "run the failed step of a compensation again")
		fs.BoolVar(&o.skip, "skip", false, "give up on the failed step of a compensation and go on")
		defineBatch(fs, o)
	},
	streams: func(o *opts) bool { return o.wait },
	act: func(o *opts, params []string, _ io.Reader) (*action, error) {
		if len(params) > 0 {
			return nil, usagef("compensate takes no argument after the workflow id, got %q", params)
		}
		if o.retry && o.skip {
			return nil, usagef("compensate: --retry and --skip exclude each other")
		}
		if o.retry || o.skip {
			return resolveCompensation(o.retry), nil
		}
		reason, wait, dry := o.reason, o.wait, o.dryRun
		return &action{
			verb: "compensate", dryRuns: true, params: map[string]any{"reason": reason},
			do: func(ctx context.Context, c *engine.Client, t target) (outcome, error) {
				if dry {
					p, err := compensations.PlanOf(ctx, c, t.WorkflowID, t.RunID)
					if err != nil {
						return outcome{}, err
					}
					return planOutcome(p, "dry run: nothing changed"), nil
				}
				p, err := compensations.Run(ctx, c, t.WorkflowID, t.RunID, reason)
				if err != nil {
					return outcome{}, err
				}
				if !wait {
					return planOutcome(p, fmt.Sprintf("compensation runs as %s (foreman show %s)", p.Via, p.Via)), nil
				}
				return waitCompensation(ctx, c, t, p.Via)
			},
			took: func(ctx context.Context, c *engine.Client, t target, identity string, since time.Time) (bool, error) {
				events, err := c.History(ctx, compensations.CompensatorID(t.RunID), "")
				if errors.Is(err, engine.ErrWorkflowNotFound) {
					return false, nil
				}
				if err != nil {
					return false, err
				}
				st, ok := events[0].Attrs.(*engine.WorkflowStarted)
				return ok && st.Identity == identity && !events[0].Time.Before(since), nil
			},
			preview: func(ctx context.Context, c *engine.Client, t target, w io.Writer) error {
				p, err := compensations.PlanOf(ctx, c, t.WorkflowID, t.RunID)
				if err != nil {
					return err
				}
				return printPlan(w, p)
			},
		}, nil
	},
}

// resolveCompensation signals a compensation run held on a failed step.
func resolveCompensation(retry bool) *action {
	signal, verb := compensations.SignalSkip, "skip"
	if retry {
		signal, verb = compensations.SignalRetry, "retry"
	}
	return &action{
		verb: "compensate --" + verb, params: map[string]any{verb: true},
		do: func(ctx context.Context, c *engine.Client, t target) (outcome, error) {
			id := compensations.CompensatorID(t.RunID)
			if err := c.Signal(ctx, id, "", signal, nil); err != nil {
				if errors.Is(err, engine.ErrWorkflowNotFound) {
					return outcome{}, fmt.Errorf("%w: run %s of %q has no compensation run (start one with foreman compensate %s)", engine.ErrWorkflowNotFound, t.RunID, t.WorkflowID, t.WorkflowID)
				}
				return outcome{}, err
			}
			return outcome{Detail: fmt.Sprintf("asked %s to %s its failed step", id, verb)}, nil
		},
		took: func(ctx context.Context, c *engine.Client, t target, identity string, since time.Time) (bool, error) {
			return tookBy(func(a *engine.SignalReceived, id string) bool { return a.Name == signal && a.Identity == id })(
				ctx, c, target{WorkflowID: compensations.CompensatorID(t.RunID)}, identity, since)
		},
	}
}

// waitCompensation polls the compensation run until it closes or holds on
// a failed step.
func waitCompensation(ctx context.Context, c *engine.Client, t target, via string) (outcome, error) {
	for {
		x, err := c.Describe(ctx, via, "")
		if err != nil {
			return outcome{}, err
		}
		p, err := compensations.PlanOf(ctx, c, t.WorkflowID, t.RunID)
		if err != nil {
			return outcome{}, err
		}
		held := x.Status == engine.StatusRunning && len(x.Activities) == 0 && hasFailed(p)
		switch {
		case x.Status == engine.StatusCompleted && p.Compensated:
			return planOutcome(p, "compensated"), nil
		case x.Status != engine.StatusRunning:
			return planOutcome(p, "compensation run "+string(x.Status)), fmt.Errorf("compensation run %s ended %s: %s", via, x.Status, x.StatusLine)
		case held:
			return planOutcome(p, x.StatusLine), fmt.Errorf("%s (foreman compensate %s --retry, or --skip)", x.StatusLine, t.WorkflowID)
		}
		select {
		case <-ctx.Done():
			return outcome{}, fmt.Errorf("waiting for compensation run %s (%s, %q): %w", via, x.Status, x.StatusLine, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func hasFailed(p compensations.Plan) bool {
	for _, s := range p.Steps {
		if s.Status == compensations.StepFailed {
			return true
		}
	}
	return false
}

func planOutcome(p compensations.Plan, note string) outcome {
	return outcome{RunID: p.RunID, Detail: note, Data: p, Print: func(w io.Writer) error {
		if err := printPlan(w, p); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w, upperFirst(note)+".")
		return err
	}}
}

// printPlan shows a run's compensations in the order they run.
func printPlan(w io.Writer, p compensations.Plan) error {
	state := "pending"
	if p.Compensated {
		state = "compensated"
	}
	fmt.Fprintf(w, "Compensation plan of %s (run %s), newest first: %d steps, %s\n", p.WorkflowID, p.RunID, len(p.Steps), state)
	if len(p.Steps) == 0 {
		return nil
	}
	t := &table{header: []string{"  SEQ", "ACTIVITY", "TASK QUEUE", "STATUS", "INPUT"}}
	for _, s := range p.Steps {
		t.add("  "+strconv.FormatInt(s.Seq, 10), s.Activity, s.TaskQueue, string(s.Status), clip(compactJSON(s.Input), 60))
	}
	return t.print(w)
}
