package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
)

// compensate runs a run's registered compensations (compensations.Run);
// a dry run returns the plan, Wait polls until the compensation run ends
// or holds on a failed step. Outcome.Data is the compensations.Plan.
func compensate() Action {
	return Action{
		Name: ActCompensate, Write: true, Destructive: true, DryRuns: true, Needs: Needs{Reason: true, Confirm: true},
		Summary: "run the registered compensations, newest first (terminates a running run)",
		Args:    reasonArgs,
		Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
			c := env.Client
			if p.DryRun {
				plan, err := compensations.PlanOf(ctx, c, t.WorkflowID, t.RunID)
				if err != nil {
					return Outcome{}, err
				}
				return planOutcome(plan, "dry run: nothing changed"), nil
			}
			plan, err := compensations.Run(ctx, c, t.WorkflowID, t.RunID, p.Reason)
			if err != nil {
				return Outcome{}, err
			}
			if !p.Wait {
				return planOutcome(plan, fmt.Sprintf("compensation runs as %s (foreman show %s)", plan.Via, plan.Via)), nil
			}
			return waitCompensation(ctx, c, t, plan.Via)
		},
		Took: func(ctx context.Context, env Env, t Target, p Params, since time.Time) (bool, error) {
			events, err := env.Client.History(ctx, compensations.CompensatorID(t.RunID), "")
			if errors.Is(err, engine.ErrWorkflowNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			st, ok := events[0].Attrs.(*engine.WorkflowStarted)
			return ok && st.Identity == env.Identity && !events[0].Time.Before(since), nil
		},
	}
}

// resolveCompensation signals a compensation run held on a failed step to
// retry it or to skip it.
func resolveCompensation(retry bool) Action {
	name, signal, verb := ActCompensateSkip, compensations.SignalSkip, "skip"
	if retry {
		name, signal, verb = ActCompensateRetry, compensations.SignalRetry, "retry"
	}
	took := tookBy(func(a *engine.SignalReceived, t Target, p Params, id string) bool {
		return a.Name == signal && a.Identity == id
	})
	return Action{
		// destructive as compensate itself: skipping gives a step up for good
		Name: name, Verb: "compensate --" + verb, Write: true, Destructive: true, Needs: Needs{Confirm: true},
		Summary: verb + " the failed step of a compensation",
		Args:    func(Params) map[string]any { return map[string]any{verb: true} },
		Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
			id := compensations.CompensatorID(t.RunID)
			if err := env.Client.Signal(ctx, id, "", signal, nil); err != nil {
				if errors.Is(err, engine.ErrWorkflowNotFound) {
					return Outcome{}, fmt.Errorf("%w: run %s of %q has no compensation run (start one with foreman compensate %s)", engine.ErrWorkflowNotFound, t.RunID, t.WorkflowID, t.WorkflowID)
				}
				return Outcome{}, err
			}
			return Outcome{Detail: fmt.Sprintf("asked %s to %s its failed step", id, verb)}, nil
		},
		Took: func(ctx context.Context, env Env, t Target, p Params, since time.Time) (bool, error) {
			return took(ctx, env, Target{WorkflowID: compensations.CompensatorID(t.RunID)}, p, since)
		},
	}
}

// waitCompensation polls the compensation run until it closes or holds on
// a failed step.
func waitCompensation(ctx context.Context, c *engine.Client, t Target, via string) (Outcome, error) {
	for {
		x, err := c.Describe(ctx, via, "")
		if err != nil {
			return Outcome{}, err
		}
		p, err := compensations.PlanOf(ctx, c, t.WorkflowID, t.RunID)
		if err != nil {
			return Outcome{}, err
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
			return Outcome{}, fmt.Errorf("waiting for compensation run %s (%s, %q): %w", via, x.Status, x.StatusLine, ctx.Err())
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

func planOutcome(p compensations.Plan, note string) Outcome {
	return Outcome{RunID: p.RunID, Detail: note, Data: p}
}
