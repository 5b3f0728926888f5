package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/foremanhq/foreman/internal/actwire"
)

// Reset points.
const (
	ResetFirst    = "first"     // only the start: the workflow runs again from the beginning
	ResetLastGood = "last-good" // the last workflow-task boundary before the first failure
)

// ErrBadResetPoint: the requested reset point is not a workflow-task boundary.
var ErrBadResetPoint = errors.New("not a reset point")

// ResetOptions says where to reset a run to and what to carry over.
type ResetOptions struct {
	// To is an event id that ends a workflow task (or the start), "first"
	// or "last-good" (the default).
	To string
	// ReapplySignals re-delivers, once, the signals received after the
	// reset point.
	ReapplySignals bool
	Reason         string
	// DryRun computes what would be kept, dropped and re-applied, and
	// changes nothing.
	DryRun bool
}

// ResetResult is what a reset kept and dropped.
type ResetResult struct {
	WorkflowID   string  `json:"workflow_id"`
	OldRunID     string  `json:"old_run_id"`
	NewRunID     string  `json:"new_run_id,omitempty"` // empty on a dry run
	ResetEventID int64   `json:"reset_event_id"`
	Kept         []Event `json:"kept"`
	Dropped      []Event `json:"dropped"`
	Reapplied    []Event `json:"reapplied,omitempty"`
	DryRun       bool    `json:"dry_run,omitempty"`
}

// Reset replaces a run by a new one that replays its history up to a
// workflow-task boundary and continues from there: the work pending at that
// point is dispatched again, later signals are re-delivered once if asked,
// and the old run closes as reset (a run that had already closed is marked
// reset). The commit point is one event on the old run; the engine's
// dispatcher builds the new run from it, so a crash at any point either
// leaves the old run untouched or completes the reset.
func (c *Client) Reset(ctx context.Context, workflowID, runID string, opts ResetOptions) (ResetResult, error) {
	if r, ok := c.forward(ctx); ok && !opts.DryRun {
		rep, err := c.act(ctx, r, "reset", actwire.Request{WorkflowID: workflowID, RunID: runID, To: opts.To, Reapply: opts.ReapplySignals, Reason: opts.Reason})
		var res ResetResult
		if err == nil && len(rep.Data) > 0 {
			err = json.Unmarshal(rep.Data, &res)
		}
		return res, err
	}
	rec, err := c.resolve(ctx, workflowID, runID)
	if err != nil {
		return ResetResult{}, err
	}
	cur, _, err := c.store.GetRun(ctx, workflowID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ResetResult{}, err
	}
	if cur.RunID != rec.RunID {
		return ResetResult{}, fmt.Errorf("%w: run %s is not the current run of %q (the current one is %s); reset the current run", ErrRunClosed, rec.RunID, workflowID, cur.RunID)
	}
	for attempt := 0; attempt < 10; attempt++ {
		batches, err := c.store.ReadHistory(ctx, rec.RunID, 0)
		if err != nil {
			return ResetResult{}, err
		}
		if len(batches) == 0 {
			return ResetResult{}, fmt.Errorf("%w: run %s of %q", ErrWorkflowNotFound, rec.RunID, workflowID)
		}
		if batches[len(batches)-1].Header.Kind == BatchImported {
			return ResetResult{}, fmt.Errorf("reset: %w", importedErr(workflowID, rec.RunID))
		}
		res, signals, err := planReset(batches, opts)
		if err != nil {
			return ResetResult{}, fmt.Errorf("reset %q: %w", workflowID, err)
		}
		res.WorkflowID, res.OldRunID = workflowID, rec.RunID
		if opts.DryRun {
			res.DryRun = true
			return res, nil
		}
		res.NewRunID = uuid.NewString()
		last := batches[len(batches)-1]
		b := &Batch{Kind: BatchExternal, Events: []Event{{ID: last.Header.LastEventID + 1, Type: EventWorkflowReset, Time: clockOf(c.store).Now().UTC(),
			Attrs: &WorkflowReset{NewRunID: res.NewRunID, ToEventID: res.ResetEventID, Reason: opts.Reason, Signals: signals}}}}
		c.stamp(b.Events)
		if err := signEvents(c.store, rec.RunID, b.Events); err != nil {
			return ResetResult{}, err
		}
		data, err := encodeBatch(b)
		if err != nil {
			return ResetResult{}, err
		}
		_, err = c.store.AppendHistory(ctx, headerFor(b, rec.RunID, workflowID, last.Header.TaskQueue), data, last.Seq, "")
		if errors.Is(err, ErrConflict) {
			continue // the run moved: plan again on its new history
		}
		if err != nil {
			return ResetResult{}, fmt.Errorf("reset %q: %w", workflowID, err)
		}
		c.awaitCurrent(ctx, workflowID, res.NewRunID)
		return res, nil
	}
	return ResetResult{}, fmt.Errorf("%w: %q", ErrBusy, workflowID)
}

// awaitCurrent waits briefly until the engine has made runID the current
// run of workflowID, so that the caller's next action reaches it. Actions
// on the old run follow it anyway; this only saves them the detour.
func (c *Client) awaitCurrent(ctx context.Context, workflowID, runID string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if rec, _, err := c.store.GetRun(ctx, workflowID); err == nil && rec.RunID == runID {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// planReset finds the reset point in a run's history and splits its events.
// It returns the signals to re-apply when asked.
func planReset(batches []StoredBatch, opts ResetOptions) (ResetResult, []SignalReceived, error) {
	var res ResetResult
	var all []Event
	var boundaries []int64 // event ids that end the start batch or a workflow task
	for i, sb := range batches {
		b, err := DecodeBatch(sb.Data)
		if err != nil {
			return res, nil, fmt.Errorf("batch %d: %w", sb.Seq, err)
		}
		for _, e := range b.Events {
			if _, ok := e.Attrs.(*WorkflowReset); ok {
				return res, nil, fmt.Errorf("%w: run was already reset to %s", ErrRunClosed, e.Attrs.(*WorkflowReset).NewRunID)
			}
		}
		all = append(all, b.Events...)
		n := len(b.Events)
		endsTask := n > 0 && b.Kind == BatchTask && b.Events[n-1].Type == EventWorkflowTaskCompleted
		if i == 0 && endsTask && b.Events[0].Type == EventWorkflowStarted {
			// an eager start stored its first workflow task with it: the
			// start alone still ends where the task begins
			boundaries = append(boundaries, b.Events[0].ID)
		}
		if endsTask {
			// a chain stored several workflow tasks in one batch
			// (worker_chain.go): each ends at its WorkflowTaskCompleted
			for _, e := range b.Events[:n-1] {
				if e.Type == EventWorkflowTaskCompleted {
					boundaries = append(boundaries, e.ID)
				}
			}
		}
		if n > 0 && (i == 0 || endsTask) {
			boundaries = append(boundaries, b.Events[n-1].ID)
		}
	}
	to, err := resetPoint(opts.To, all, boundaries)
	if err != nil {
		return res, nil, err
	}
	res.ResetEventID = to
	var signals []SignalReceived
	for _, e := range all {
		if e.ID <= to {
			res.Kept = append(res.Kept, e)
			continue
		}
		res.Dropped = append(res.Dropped, e)
		if s, ok := e.Attrs.(*SignalReceived); ok && opts.ReapplySignals {
			res.Reapplied = append(res.Reapplied, e)
			signals = append(signals, *s)
		}
	}
	return res, signals, nil
}

func resetPoint(to string, all []Event, boundaries []int64) (int64, error) {
	switch to {
	case ResetFirst:
		return boundaries[0], nil
	case "", ResetLastGood:
		firstFailure := int64(-1)
		for _, e := range all {
			if isFailureEvent(e.Type) {
				firstFailure = e.ID
				break
			}
		}
		point := boundaries[0]
		for _, b := range boundaries {
			if firstFailure >= 0 && b >= firstFailure {
				break
			}
			if !closesAt(all, b) {
				point = b
			}
		}
		return point, nil
	}
	id, err := strconv.ParseInt(to, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is neither an event id, %q nor %q", ErrBadResetPoint, to, ResetFirst, ResetLastGood)
	}
	for _, b := range boundaries {
		if b == id {
			if closesAt(all, b) {
				return 0, fmt.Errorf("%w: event %d ends the workflow task that closed the run; pick an earlier one (%v)", ErrBadResetPoint, id, boundaries)
			}
			return id, nil
		}
	}
	what := "beyond the history"
	if id >= 1 && int(id) <= len(all) {
		what = string(all[id-1].Type)
	}
	return 0, fmt.Errorf("%w: event %d (%s) does not end a workflow task; reset points are %v", ErrBadResetPoint, id, what, boundaries)
}

// isFailureEvent: what last-good resets to before.
func isFailureEvent(t EventType) bool {
	switch t {
	case EventActivityAttemptFailed, EventActivityFailed, EventWorkflowTaskFailed, EventWorkflowFailed:
		return true
	}
	return false
}

// closesAt tells whether the workflow task ending at event id closed the run
// (resetting there would give a closed run).
func closesAt(all []Event, id int64) bool {
	for i := id - 1; i >= 0 && i < int64(len(all)); i-- {
		t := all[i].Type
		if t.Closes() {
			return true
		}
		if i < id-1 && (t == EventWorkflowTaskCompleted || t == EventWorkflowStarted) {
			return false
		}
	}
	return false
}
