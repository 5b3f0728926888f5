package operator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/auth"
)

// Names of the built-in actions.
const (
	ActSignal          = "signal"
	ActApprove         = "approve"
	ActReject          = "reject"
	ActCancel          = "cancel"
	ActTerminate       = "terminate"
	ActReset           = "reset"
	ActCompensate      = "compensate"
	ActCompensateRetry = "compensate-retry"
	ActCompensateSkip  = "compensate-skip"
	ActStart           = "start"
	ActViewSave        = "view-save"
	ActViewDelete      = "view-delete"
	ActUpdate          = "update"
)

// Default is the catalog of the built-in actions, the one the CLI and the
// console use.
var Default = NewCatalog(builtins()...)

var running = []engine.Status{engine.StatusRunning}

func builtins() []Action {
	return []Action{
		{
			Name: ActSignal, Write: true, States: running, Needs: Needs{Input: true},
			Summary: "deliver a named signal with a JSON payload",
			Args:    func(p Params) map[string]any { return map[string]any{"name": p.Name, "payload": p.Input} },
			Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
				var payload any
				if p.Input != nil {
					payload = p.Input
				}
				return Outcome{Detail: "signaled " + p.Name}, env.Client.Signal(ctx, t.WorkflowID, t.RunID, p.Name, payload)
			},
			Took: tookBy(func(a *engine.SignalReceived, t Target, p Params, id string) bool {
				return a.Name == p.Name && a.Identity == id
			}),
		},
		decide(true),
		decide(false),
		{
			Name: ActCancel, Write: true, States: running, Needs: Needs{Reason: true},
			Summary: "ask a run to cancel (its code decides how to end)",
			Args:    reasonArgs,
			Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
				return Outcome{Detail: "cancel requested"}, env.Client.Cancel(ctx, t.WorkflowID, t.RunID, p.Reason)
			},
			Took: tookBy(func(a *engine.WorkflowCancelRequested, t Target, p Params, id string) bool { return a.Identity == id }),
		},
		{
			Name: ActTerminate, Write: true, Destructive: true, States: running,
			Needs:   Needs{Reason: true, ReasonRequired: true, Confirm: true},
			Summary: "close a run at once; no workflow code runs",
			Args:    reasonArgs,
			Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
				return Outcome{Detail: "terminated"}, env.Client.Terminate(ctx, t.WorkflowID, t.RunID, p.Reason)
			},
			Took: tookBy(func(a *engine.WorkflowTerminated, t Target, p Params, id string) bool { return a.Identity == id }),
		},
		{
			Name: ActReset, Write: true, Destructive: true, DryRuns: true, Needs: Needs{Reason: true, Confirm: true},
			Summary: "rerun from a workflow-task boundary; the old run closes as reset",
			Args: func(p Params) map[string]any {
				return map[string]any{"to": p.To, "reapply_signals": p.ReapplySignals, "reason": p.Reason}
			},
			Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
				res, err := env.Client.Reset(ctx, t.WorkflowID, t.RunID, engine.ResetOptions{To: p.To, ReapplySignals: p.ReapplySignals, Reason: p.Reason, DryRun: p.DryRun})
				if err != nil {
					return Outcome{}, err
				}
				return Outcome{RunID: res.OldRunID, Detail: fmt.Sprintf("reset to event %d, new run %s", res.ResetEventID, res.NewRunID), Data: res}, nil
			},
			Took: tookBy(func(a *engine.WorkflowReset, t Target, p Params, id string) bool { return a.Identity == id }),
		},
		compensate(),
		update(),
		resolveCompensation(true),
		resolveCompensation(false),
		{
			Name: ActStart, Write: true, Needs: Needs{Input: true},
			Summary: "start a run of a registered workflow type",
			Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
				var input any
				if p.Input != nil {
					input = p.Input
				}
				run, err := env.Client.Start(ctx, p.Start, p.Name, input)
				return Outcome{RunID: run.RunID, Detail: "started", Data: run}, err
			},
		},
		{
			Name: ActViewSave, Verb: "views save", Write: true, Summary: "save a named search",
			Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
				if env.SaveView == nil {
					return Outcome{}, errors.New("saving view: no saved views")
				}
				return Outcome{Detail: "saved view " + p.Name}, env.SaveView(ctx, p.Name, p.Query)
			},
		},
		{
			Name: ActViewDelete, Verb: "views delete", Write: true, Summary: "delete a named search",
			Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
				if env.DeleteView == nil {
					return Outcome{}, errors.New("deleting view: no saved views")
				}
				return Outcome{Detail: "deleted view " + p.Name}, env.DeleteView(ctx, p.Name)
			},
		},
	}
}

func reasonArgs(p Params) map[string]any { return map[string]any{"reason": p.Reason} }

func decide(approved bool) Action {
	name, verb, summary := ActApprove, "approved", "approve a pending approval (the only one, or APPROVAL)"
	if !approved {
		name, verb, summary = ActReject, "rejected", "reject a pending approval (the only one, or APPROVAL)"
	}
	return Action{
		Name: name, Write: true, States: running, Needs: Needs{Comment: true}, Summary: summary,
		Roles: []auth.Role{auth.Approver},
		Args:  func(p Params) map[string]any { return map[string]any{"approval": p.Approval, "comment": p.Comment} },
		Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
			which, runID := cmp.Or(t.Approval, p.Approval), t.RunID
			if which == "" {
				x, err := env.Client.Describe(ctx, t.WorkflowID, t.RunID)
				if err != nil {
					return Outcome{}, err
				}
				if which, err = onlyApproval(x); err != nil {
					return Outcome{}, err
				}
				runID = x.RunID
			}
			err := env.Client.Decide(ctx, t.WorkflowID, runID, which, approved, p.Comment)
			return Outcome{RunID: runID, Detail: verb + " " + which}, err
		},
		Took: tookBy(func(a *engine.ApprovalDecided, t Target, p Params, id string) bool {
			which := cmp.Or(t.Approval, p.Approval)
			return a.By == id && a.Approved == approved && (which == "" || a.Name == which)
		}),
	}
}

// onlyApproval names the run's one pending approval.
func onlyApproval(x *engine.Execution) (string, error) {
	switch len(x.Approvals) {
	case 0:
		if x.Status != engine.StatusRunning {
			return "", fmt.Errorf("%w: %q run %s is %s", engine.ErrRunClosed, x.WorkflowID, x.RunID, x.Status)
		}
		return "", fmt.Errorf("%w: %q has no pending approval", engine.ErrNoSuchApproval, x.WorkflowID)
	case 1:
		return x.Approvals[0].Name, nil
	}
	names := make([]string, len(x.Approvals))
	for i, p := range x.Approvals {
		names[i] = p.Name
	}
	return "", invalidf("%q has %d pending approvals (%s): name the one to decide", x.WorkflowID, len(names), strings.Join(names, ", "))
}

// tookSkew is how far apart two processes' estimates of the server's
// clock may be (a batch's start and the event the engine appended).
const tookSkew = 2 * time.Second

// tookBy builds an action's Took from a predicate on one event type of the
// run's own history.
func tookBy[A any](match func(a *A, t Target, p Params, identity string) bool) func(context.Context, Env, Target, Params, time.Time) (bool, error) {
	return func(ctx context.Context, env Env, t Target, p Params, since time.Time) (bool, error) {
		events, err := env.Client.History(ctx, t.WorkflowID, t.RunID)
		if err != nil {
			return false, err
		}
		for _, e := range events {
			// The engine dates the event by its own estimate of the
			// server's clock, since by the batch's: tolerate their skew.
			if a, ok := e.Attrs.(*A); ok && !e.Time.Before(since.Add(-tookSkew)) && match(a, t, p, env.Identity) {
				return true, nil
			}
		}
		return false, nil
	}
}

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
