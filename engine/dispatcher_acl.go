package engine

import (
	"context"
	"encoding/json"
	"errors"
)

// The dispatcher's checks on commands that act beyond their run
// (cmdauth.go): a refused one fails where its workflow waits for it.

// commandRefusal checks that the writer of command a (type t, its seq in
// the run of h) may act on queue; when it may not, the refusal is audited
// (action on target) and the failure the workflow sees is returned. nil,
// nil: go ahead.
func commandRefusal(ctx context.Context, s Store, h BatchHeader, t EventType, a commandAttrs, seq int64, attempt int, action, target, queue string) (*Failure, error) {
	err := checkCommand(ctx, s, t, a, queue)
	var d *commandDenied
	if !errors.As(err, &d) {
		return nil, err
	}
	return refuseCommand(ctx, s, h, seq, attempt, action, target, d)
}

// refuseForeignActivity refuses an attempt of an activity scheduled on
// another queue than its run's when its writer may not act there: the
// attempt fails for good with the refusal, as a worker's non-retryable
// failure does. refused is false when the activity may run.
func refuseForeignActivity(ctx context.Context, s Store, h BatchHeader, a *ActivityScheduled, attempt int) (refused bool, err error) {
	f, err := commandRefusal(ctx, s, h, EventActivityScheduled, a, a.Seq, attempt, "schedule-activity", a.ActivityType, a.TaskQueue)
	if f == nil || err != nil {
		return false, err
	}
	t, _ := json.Marshal(workflowTask{RunID: h.RunID, WorkflowID: h.WorkflowID, Inbound: &inbound{Kind: inboundActivityResult, Seq: a.Seq, Attempt: attempt, Failure: f}})
	return true, s.PublishTask(ctx, WorkflowTaskKind, h.TaskQueue, t, resultMsgID(h.RunID, a.Seq, attempt))
}
