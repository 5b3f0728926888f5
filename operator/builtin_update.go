package operator

import (
	"context"
	"encoding/json"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// update is the update action: send a named update with a JSON input and
// wait for its result (Params.UpdateWait: completed by default). On the
// engine's side it answers once the update is accepted (engine.Client
// never holds the action service for a handler); the operator's client
// waits for the completion itself. Deduplication is per run, so a batch
// sends one update id to every run (the CLI picks one when none is
// given): a resumed batch repeats the same request, which each run that
// already accepted it answers from history.
func update() Action {
	return Action{
		Name: ActUpdate, Write: true, States: running, Needs: Needs{Input: true},
		Summary: "send a named update (validated by the run) and print its result",
		Args: func(p Params) map[string]any {
			return map[string]any{"name": p.Name, "input": p.Input, "update_id": p.UpdateID}
		},
		Do: func(ctx context.Context, env Env, t Target, p Params) (Outcome, error) {
			var input any
			if p.Input != nil {
				input = p.Input
			}
			res, err := env.Client.Update(ctx, t.WorkflowID, t.RunID, p.Name, input, engine.UpdateOptions{UpdateID: p.UpdateID, WaitFor: p.UpdateWait})
			if err != nil && res.UpdateID == "" {
				return Outcome{}, err
			}
			detail := "update " + p.Name + " " + string(res.Stage)
			if len(res.Result) > 0 {
				detail += ": " + compactJSON(res.Result)
			}
			return Outcome{RunID: res.RunID, Detail: detail, Data: res}, err
		},
		Took: func(ctx context.Context, env Env, t Target, p Params, since time.Time) (bool, error) {
			if p.UpdateID == "" {
				return false, nil
			}
			x, err := env.Client.Describe(ctx, t.WorkflowID, t.RunID)
			if err != nil {
				return false, err
			}
			for _, u := range x.Updates {
				if u.UpdateID == p.UpdateID {
					return true, nil
				}
			}
			return false, nil
		},
	}
}

// compactJSON is raw on one line, clipped for a result table.
func compactJSON(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
