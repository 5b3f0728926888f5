package operator

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/foremanhq/foreman/engine"
)

// The schedule actions (issue 17): writes the engine performs for
// operators and admins (viewers read schedules from the store). They act
// on a schedule, not a run: Params.Name is the schedule's id, Params.Input
// the action's arguments as JSON (the schedule, a trigger or backfill
// request), Params.Reason the pause note.
func init() {
	for _, a := range scheduleActions() {
		Default.Register(a)
	}
}

func scheduleActions() []Action {
	return []Action{
		scheduleWrite(engine.ActScheduleCreate, "create", "create a schedule", (*engine.ScheduleClient).Create),
		scheduleWrite(engine.ActScheduleUpdate, "update", "replace a schedule's spec, action and policies", (*engine.ScheduleClient).Update),
		{
			Name: engine.ActSchedulePause, Verb: "schedule pause", Write: true, Needs: Needs{Reason: true}, Summary: "pause a schedule, with a note",
			Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
				return Outcome{Detail: "paused schedule " + p.Name}, env.Client.Schedules().Pause(ctx, p.Name, p.Reason)
			},
		},
		{
			Name: engine.ActScheduleUnpause, Verb: "schedule unpause", Write: true, Needs: Needs{Reason: true}, Summary: "let a paused schedule fire again",
			Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
				return Outcome{Detail: "unpaused schedule " + p.Name}, env.Client.Schedules().Unpause(ctx, p.Name, p.Reason)
			},
		},
		{
			Name: engine.ActScheduleTrigger, Verb: "schedule trigger", Write: true, Summary: "fire a schedule now",
			Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
				var req engine.TriggerRequest
				if err := optionalArg(p, &req); err != nil {
					return Outcome{}, err
				}
				res, err := env.Client.Schedules().Trigger(ctx, p.Name, req)
				if err != nil {
					return Outcome{}, err
				}
				return Outcome{RunID: res.RunID, Detail: fmt.Sprintf("%s %s", res.Outcome, res.WorkflowID), Data: res}, nil
			},
		},
		{
			Name: engine.ActScheduleBackfill, Verb: "schedule backfill", Write: true, Summary: "fire a schedule for a past time range",
			Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
				var req engine.BackfillRequest
				if err := optionalArg(p, &req); err != nil {
					return Outcome{}, err
				}
				n, err := env.Client.Schedules().Backfill(ctx, p.Name, req)
				return Outcome{Detail: fmt.Sprintf("backfilled %d fire(s)", n), Data: n}, err
			},
		},
		{
			Name: engine.ActScheduleDelete, Verb: "schedule delete", Write: true, Destructive: true, Needs: Needs{Confirm: true},
			Summary: "delete a schedule (the runs it started go on)",
			Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
				return Outcome{Detail: "deleted schedule " + p.Name}, env.Client.Schedules().Delete(ctx, p.Name)
			},
		},
	}
}

// scheduleWrite is an action that writes the schedule its request carries.
func scheduleWrite(name, verb, summary string, write func(*engine.ScheduleClient, context.Context, engine.Schedule) error) Action {
	return Action{
		Name: name, Verb: "schedule " + verb, Write: true, Summary: summary,
		Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
			sch, err := scheduleArg(p)
			if err != nil {
				return Outcome{}, err
			}
			return Outcome{Detail: verb + "d schedule " + sch.ID}, write(env.Client.Schedules(), ctx, sch)
		},
	}
}

func scheduleArg(p Params) (engine.Schedule, error) {
	var sch engine.Schedule
	if len(p.Input) == 0 {
		return sch, invalidf("the schedule is missing")
	}
	if err := json.Unmarshal(p.Input, &sch); err != nil {
		return sch, invalidf("the schedule is not valid: %v", err)
	}
	if p.Name != "" && sch.ID != p.Name {
		return sch, invalidf("the request names schedule %q but carries %q", p.Name, sch.ID)
	}
	return sch, nil
}

func optionalArg(p Params, into any) error {
	if len(p.Input) == 0 {
		return nil
	}
	if err := json.Unmarshal(p.Input, into); err != nil {
		return invalidf("the arguments are not valid: %v", err)
	}
	return nil
}
