package compensations

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Queue is the task queue of the compensation runs operators start; the
// engine daemon runs a worker for it (Register).
const Queue = "foreman-compensations"

// WorkflowType is the registered name of the compensation workflow.
const WorkflowType = "foreman.Compensate"

// markActivity records the outcome on the compensated run.
const markActivity = "foreman.MarkCompensated"

// Signals a compensation run waiting on a failed step accepts.
const (
	SignalRetry = "retry"
	SignalSkip  = "skip"
)

// ErrNothingToCompensate: the run registered no compensation still to run.
var ErrNothingToCompensate = errors.New("nothing to compensate")

// DefaultRetry applies to a compensation registered without a retry policy.
var DefaultRetry = engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5}

// CompensatorID is the workflow id of the compensation run of runID.
func CompensatorID(runID string) string { return "compensate-" + runID }

// Register makes w (a worker of Queue) run operator-started compensations;
// c records their outcome on the compensated runs.
func Register(w *engine.Worker, c *engine.Client) error {
	if err := w.RegisterWorkflowWithName(WorkflowType, CompensateWorkflow); err != nil {
		return err
	}
	return w.RegisterActivityWithName(markActivity, func(ctx context.Context, in markInput) error {
		return c.MarkCompensated(ctx, in.WorkflowID, in.RunID, in.Via, in.Steps)
	})
}

// Request is the input of a compensation run.
type Request struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Reason     string `json:"reason,omitempty"`
	Steps      []Step `json:"steps"` // newest first
}

// Report is the result of a compensation run.
type Report struct {
	Ran     int     `json:"ran"`
	Skipped []int64 `json:"skipped,omitempty"` // seqs of the steps an operator skipped
}

type markInput struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Via        string `json:"via"`
	Steps      int    `json:"steps"`
}

// PlanOf reads the compensation plan of a run (runID "" = current), with
// the progress of an operator-started compensation run if there is one.
func PlanOf(ctx context.Context, c *engine.Client, workflowID, runID string) (Plan, error) {
	events, err := c.History(ctx, workflowID, runID)
	if err != nil {
		return Plan{}, err
	}
	p := PlanFromHistory(events)
	// The steps' outcomes are in the compensation run's history, also once
	// the run is marked compensated (which names it in Via).
	via := p.Via
	if via == "" {
		via = CompensatorID(p.RunID)
	}
	switch comp, err := c.History(ctx, via, ""); {
	case err == nil:
		p.Via = via
		p.merge(comp)
	case !errors.Is(err, engine.ErrWorkflowNotFound):
		return p, fmt.Errorf("reading the compensation run %s: %w", via, err)
	}
	return p, nil
}

// Run compensates a run as an operator: a running run is terminated first
// (with the reason), then a compensation run executes the pending steps
// newest first on the task queues they were registered with — any worker
// with those activities will do; the workflow's own code need not be
// deployed. It returns the plan it started. A step that keeps failing holds
// the compensation run (its status line says why) until an operator
// signals it retry or skip.
func Run(ctx context.Context, c *engine.Client, workflowID, runID, reason string) (Plan, error) {
	x, err := c.Describe(ctx, workflowID, runID)
	if err != nil {
		return Plan{}, err
	}
	if x.Imported != nil {
		// Its compensations would run real activities for a copy.
		return Plan{}, fmt.Errorf("compensating %q: %w: run %s is read-only here", workflowID, engine.ErrImportedRun, x.RunID)
	}
	p, err := PlanOf(ctx, c, workflowID, x.RunID)
	if err != nil {
		return Plan{}, err
	}
	if p.Compensated {
		return p, fmt.Errorf("%w: run %s of %q is already compensated", ErrNothingToCompensate, x.RunID, workflowID)
	}
	pending := p.Pending()
	if len(pending) == 0 {
		return p, fmt.Errorf("%w: run %s of %q registered no compensation still to run", ErrNothingToCompensate, x.RunID, workflowID)
	}
	if x.Status == engine.StatusRunning {
		if err := c.Terminate(ctx, workflowID, x.RunID, "compensating: "+reason); err != nil && !errors.Is(err, engine.ErrRunClosed) {
			return p, fmt.Errorf("closing %q before compensating it: %w", workflowID, err)
		}
	}
	id := CompensatorID(x.RunID)
	_, err = c.Start(ctx, engine.StartOptions{ID: id, TaskQueue: Queue, IDReusePolicy: engine.AllowDuplicateFailedOnly}, WorkflowType,
		Request{WorkflowID: workflowID, RunID: x.RunID, Reason: reason, Steps: pending})
	if err != nil {
		return p, fmt.Errorf("starting the compensation of %q: %w", workflowID, err)
	}
	p.Via = id
	return p, nil
}

// CompensateWorkflow runs a compensation plan (the workflow behind Run).
func CompensateWorkflow(ctx engine.Context, req Request) (Report, error) {
	var rep Report
	retry := engine.GetSignalChannel(ctx, SignalRetry)
	skip := engine.GetSignalChannel(ctx, SignalSkip)
	for i, s := range req.Steps {
		opts := engine.ActivityOptions{StartToCloseTimeout: time.Minute}
		if s.Options != nil {
			opts = *s.Options
		}
		opts.TaskQueue = s.TaskQueue
		if opts.RetryPolicy == nil {
			r := DefaultRetry
			opts.RetryPolicy = &r
		}
		actx := engine.WithActivityOptions(ctx, opts)
		for {
			engine.SetStatus(ctx, fmt.Sprintf("compensating %s of %s (%d of %d)", s.Activity, req.WorkflowID, i+1, len(req.Steps)))
			err := engine.ExecuteActivity(actx, s.Activity, s.Input).Get(ctx, nil)
			if err == nil {
				if err := engine.RecordMarker(ctx, engine.MarkerCompensationDone, strconv.FormatInt(s.Seq, 10), StepOK); err != nil {
					return rep, err
				}
				rep.Ran++
				break
			}
			_ = engine.RecordMarker(ctx, engine.MarkerCompensationDone, strconv.FormatInt(s.Seq, 10), StepFailed)
			engine.SetStatus(ctx, fmt.Sprintf("%s failed: %v; signal %q or %q", s.Activity, err, SignalRetry, SignalSkip))
			skipped := false
			sel := engine.NewSelector(ctx)
			sel.AddReceive(retry, func(ch engine.Channel, _ bool) { ch.Receive(ctx, nil) })
			sel.AddReceive(skip, func(ch engine.Channel, _ bool) { ch.Receive(ctx, nil); skipped = true })
			sel.Select(ctx)
			if skipped {
				if err := engine.RecordMarker(ctx, engine.MarkerCompensationDone, strconv.FormatInt(s.Seq, 10), StepSkipped); err != nil {
					return rep, err
				}
				rep.Skipped = append(rep.Skipped, s.Seq)
				break
			}
		}
		engine.SetProgress(ctx, int64(i+1), int64(len(req.Steps)))
	}
	if len(rep.Skipped) > 0 {
		engine.SetStatus(ctx, fmt.Sprintf("done; %d step(s) skipped, %s is not marked compensated", len(rep.Skipped), req.WorkflowID))
		return rep, nil
	}
	mctx := engine.WithActivityOptions(ctx, engine.ActivityOptions{TaskQueue: Queue, StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute}})
	err := engine.ExecuteActivity(mctx, markActivity, markInput{WorkflowID: req.WorkflowID, RunID: req.RunID, Via: engine.GetInfo(ctx).WorkflowID, Steps: rep.Ran}).Get(ctx, nil)
	engine.SetStatus(ctx, "done")
	return rep, err
}
