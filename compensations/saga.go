// Package compensations is Foreman's saga support, built only on the public
// engine API. Workflow code registers a compensation right after each
// forward step succeeds; the registration is recorded in the run's history
// (a marker), so the plan can be read from history alone — by Compensate in
// the workflow itself, or by an operator (Run) when the workflow failed, was
// terminated, or its code is no longer deployed.
//
//	if err := engine.ExecuteActivity(ctx, ChargePayment, in).Get(ctx, &paymentID); err != nil {
//		return compensateAnd(ctx, err)
//	}
//	compensations.Add(ctx, RefundPayment, paymentID)
package compensations

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/foremanhq/foreman/engine"
)

// registration is the marker value of one compensation.
type registration struct {
	Activity  string                  `json:"activity"`
	TaskQueue string                  `json:"task_queue,omitempty"`
	Input     json.RawMessage         `json:"input,omitempty"`
	Options   *engine.ActivityOptions `json:"options,omitempty"`
}

// Add registers activity(input) as the compensation of the forward step that
// just succeeded. It runs, newest first, when the workflow calls Compensate
// or an operator compensates the run. opts (at most one) sets its task
// queue, timeouts and retry policy; by default it runs on the workflow's
// activity options.
func Add(ctx engine.Context, activity any, input any, opts ...engine.ActivityOptions) error {
	raw, err := json.Marshal(input)
	if err != nil {
		return fmt.Errorf("compensation %s: input cannot be encoded: %w", engine.FuncName(activity), err)
	}
	reg := registration{Activity: engine.FuncName(activity), Input: raw}
	if len(opts) > 0 {
		o := opts[0]
		reg.Options, reg.TaskQueue = &o, o.TaskQueue
	}
	if reg.TaskQueue == "" {
		reg.TaskQueue = engine.GetInfo(ctx).TaskQueue
	}
	return engine.RecordMarker(ctx, engine.MarkerCompensation, reg.Activity, reg)
}

// Options tune Compensate.
type Options struct {
	// Parallel runs every compensation at once instead of newest first.
	Parallel bool
	// ContinueOnError runs the remaining compensations when one fails;
	// Compensate then returns all the failures joined.
	ContinueOnError bool
}

// Compensate runs the compensations registered so far and not yet run,
// newest first, as activities, recording each outcome in history. It runs
// even when ctx is cancelled (a cancelled workflow must still undo its
// steps). When all succeed the run is marked compensated: if the workflow
// then fails, it ends with status compensated.
func Compensate(ctx engine.Context, opts Options) error {
	ctx, _ = engine.NewDisconnectedContext(ctx)
	steps := pendingInWorkflow(ctx)
	futures := make([]engine.Future, len(steps))
	start := func(i int) {
		s := steps[i]
		actx := ctx
		if s.Options != nil {
			actx = engine.WithActivityOptions(ctx, *s.Options)
		}
		futures[i] = engine.ExecuteActivity(actx, s.Activity, s.Input)
	}
	var errs []error
	for i := range steps {
		if opts.Parallel {
			start(i)
			continue
		}
		start(i)
		if err := finish(ctx, steps[i], futures[i]); err != nil {
			errs = append(errs, err)
			if !opts.ContinueOnError {
				return errors.Join(errs...)
			}
		}
	}
	if opts.Parallel {
		for i := range steps {
			if err := finish(ctx, steps[i], futures[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return engine.RecordMarker(ctx, engine.MarkerCompensated, "", len(steps))
}

func finish(ctx engine.Context, s Step, f engine.Future) error {
	outcome := StepOK
	err := f.Get(ctx, nil)
	if err != nil {
		outcome = StepFailed
		err = fmt.Errorf("compensation %s (step %d): %w", s.Activity, s.Seq, err)
	}
	if merr := engine.RecordMarker(ctx, engine.MarkerCompensationDone, strconv.FormatInt(s.Seq, 10), outcome); merr != nil {
		return merr
	}
	return err
}

// pendingInWorkflow lists the run's registered compensations that have not
// run successfully (or been skipped), newest first.
func pendingInWorkflow(ctx engine.Context) []Step {
	done := map[string]StepStatus{}
	for _, m := range engine.RecordedMarkers(ctx, engine.MarkerCompensationDone) {
		var st StepStatus
		_ = json.Unmarshal(m.Value, &st)
		done[m.ID] = st
	}
	var steps []Step
	regs := engine.RecordedMarkers(ctx, engine.MarkerCompensation)
	for i := len(regs) - 1; i >= 0; i-- {
		s, ok := stepOf(regs[i].Seq, regs[i].Value)
		if !ok {
			continue
		}
		if st := done[strconv.FormatInt(s.Seq, 10)]; st == StepOK || st == StepSkipped {
			continue
		}
		steps = append(steps, s)
	}
	return steps
}
