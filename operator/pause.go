package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/actwire"
)

// Names of the pause and activity actions (issue 18). They are the names
// /work/PAUSE-CONTRACT.md fixes: notify offers them on its diagnosis groups.
const (
	ActPause                 = "pause"
	ActUnpause               = "unpause"
	ActActivityRetry         = "activity-retry"
	ActActivityPause         = "activity-pause"
	ActActivityUnpause       = "activity-unpause"
	ActActivityReset         = "activity-reset"
	ActActivityUpdateOptions = "activity-update-options"
	ActActivityComplete      = "activity-complete"
	ActActivityFail          = "activity-fail"
)

// pauseActions are the actions on paused runs and pending activities.
// Each is the operator's and the admin's (the default roles); viewers may
// dry-run them in a batch, which changes nothing.
func pauseActions() []Action {
	return []Action{
		pauseAction(ActPause, "paused", "pause a run: no workflow task, no new activity attempt until unpause", (*engine.Client).Pause,
			tookBy(func(a *engine.WorkflowPaused, t Target, p Params, id string) bool { return a.Identity == id })),
		pauseAction(ActUnpause, "unpaused", "resume a paused or dead-lettered run (held attempts run now)", (*engine.Client).Unpause,
			tookBy(func(a *engine.WorkflowUnpaused, t Target, p Params, id string) bool { return a.Identity == id })),
		activityAction(ActActivityRetry, engine.ActivityOpRetry, "run a waiting activity's next attempt now (skips the backoff, lifts a dead letter)", Needs{Reason: true}),
		activityAction(ActActivityPause, engine.ActivityOpPause, "hold a pending activity's next attempts", Needs{Reason: true}),
		activityAction(ActActivityUnpause, engine.ActivityOpUnpause, "release a paused activity", Needs{Reason: true}),
		activityAction(ActActivityReset, engine.ActivityOpReset, "count an activity's attempts from 1 again (retries a dead letter)", Needs{Reason: true}),
		activityAction(ActActivityUpdateOptions, engine.ActivityOpUpdate, "change an activity's timeouts and retry policy from its next attempt", Needs{Reason: true}),
		activityAction(ActActivityComplete, engine.ActivityOpComplete, "complete a pending activity by hand with a JSON result", Needs{Reason: true, Input: true, Confirm: true}),
		activityAction(ActActivityFail, engine.ActivityOpFail, "fail a pending activity by hand with an error", Needs{Reason: true, Confirm: true}),
	}
}

// pauseAction is the catalog entry of pause or unpause.
func pauseAction(name, detail, summary string, do func(*engine.Client, context.Context, string, string, string) error,
	took func(context.Context, Env, Target, Params, time.Time) (bool, error)) Action {
	return Action{
		Name: name, Write: true, States: running, Needs: Needs{Reason: true}, Summary: summary, Args: reasonArgs, Took: took,
		Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
			return Outcome{Detail: detail}, do(env.Client, ctx, t.WorkflowID, t.RunID, p.Reason)
		},
	}
}

// activityAction is the catalog entry of one activity operation.
func activityAction(name, op, summary string, needs Needs) Action {
	return Action{
		Name: name, Verb: "activity " + op, Write: true, States: running, Needs: needs, Summary: summary,
		Destructive: op == engine.ActivityOpComplete || op == engine.ActivityOpFail,
		Args: func(p Params) map[string]any {
			return map[string]any{"activity": p.Activity, "reason": p.Reason, "result": p.Input, "options": p.ActivityOptions, "failure": p.Failure}
		},
		Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
			acted, err := env.Client.OperateActivity(ctx, t.WorkflowID, t.RunID, engine.ActivityOperationRequest{
				Op: op, Activity: p.Activity, Reason: p.Reason, Result: p.Input, Failure: p.Failure, Options: p.ActivityOptions})
			if err != nil {
				return Outcome{}, err
			}
			var names []string
			for _, a := range acted {
				names = append(names, fmt.Sprintf("%s (seq %d, attempt %d)", a.ActivityType, a.Seq, a.Attempt))
			}
			return Outcome{Detail: "activity " + op + " " + strings.Join(names, ", "), Data: acted}, nil
		},
		Took: tookBy(func(a *engine.ActivityOperation, t Target, p Params, id string) bool {
			return a.Op == op && a.Identity == id
		}),
	}
}

// decodeActivityParams reads an activity operation's options and error
// from the wire.
func decodeActivityParams(req actwire.Request, p *Params) error {
	if len(req.Options) > 0 && string(req.Options) != "null" {
		p.ActivityOptions = &engine.ActivityOptionsUpdate{}
		if err := json.Unmarshal(req.Options, p.ActivityOptions); err != nil {
			return invalidf("activity options: %v", err)
		}
	}
	if len(req.Failure) > 0 && string(req.Failure) != "null" {
		p.Failure = &engine.Failure{}
		if err := json.Unmarshal(req.Failure, p.Failure); err != nil {
			return invalidf("activity failure: %v", err)
		}
	}
	return nil
}
