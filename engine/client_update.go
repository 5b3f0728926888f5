package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/foremanhq/foreman/internal/actwire"
)

func init() {
	for code, err := range map[string]error{"unknown_update": ErrUnknownUpdate, "update_rejected": ErrUpdateRejected,
		"update_failed": ErrUpdateFailed, "update_aborted": ErrUpdateAborted} {
		actwire.Register(code, err)
	}
}

// UpdateStage is how far an update has come: what a caller waits for.
type UpdateStage string

const (
	// WaitForAccepted: the validator accepted the update and history holds
	// it; its handler runs (or will, after a crash).
	WaitForAccepted UpdateStage = "accepted"
	// WaitForCompleted: the handler returned (the default wait).
	WaitForCompleted UpdateStage = "completed"
)

// UpdateOptions configure Client.Update.
type UpdateOptions struct {
	// UpdateID names the update; a repeated request with the same id is
	// answered with the first one's outcome instead of running again.
	// Empty: a new random id (the result names it).
	UpdateID string
	// WaitFor is what Update waits for (default WaitForCompleted).
	WaitFor UpdateStage
}

// UpdateResult is where an update stands.
type UpdateResult struct {
	WorkflowID string          `json:"workflow_id"`
	RunID      string          `json:"run_id"`
	UpdateID   string          `json:"update_id"`
	Name       string          `json:"name"`
	Stage      UpdateStage     `json:"stage"`
	Result     json.RawMessage `json:"result,omitempty"`
	Failure    *Failure        `json:"failure,omitempty"`
	// seq: history holds the acceptance at or before this position.
	seq uint64
}

// Get decodes a completed update's result into valuePtr.
func (r UpdateResult) Get(valuePtr any) error {
	if r.Failure != nil {
		return fmt.Errorf("%w: %s: %w", ErrUpdateFailed, r.Name, r.Failure)
	}
	if r.Stage != WaitForCompleted {
		return fmt.Errorf("update %s %s: not completed yet", r.Name, r.UpdateID)
	}
	if valuePtr == nil || len(r.Result) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result, valuePtr)
}

// UpdateRequestTimeout bounds how long Update looks for a worker to judge
// the update when ctx has no deadline (a wait for completion is bounded by
// ctx alone).
const UpdateRequestTimeout = 10 * time.Second

// Update sends the update name with input to a run (runID "" = the
// current run, following continue-as-new) and waits for what opts.WaitFor
// says. A validator's refusal returns ErrUpdateRejected with its message
// and leaves no event; a handler's error returns the result with its
// Failure and ErrUpdateFailed.
func (c *Client) Update(ctx context.Context, workflowID, runID, name string, input any, opts UpdateOptions) (UpdateResult, error) {
	if name == "" {
		return UpdateResult{}, errors.New("update: an update name is required")
	}
	raw, err := encodePayload(input, "input of update "+name)
	if err != nil {
		return UpdateResult{}, err
	}
	if opts.UpdateID == "" {
		opts.UpdateID = uuid.NewString()
	}
	if opts.WaitFor == "" {
		opts.WaitFor = WaitForCompleted
	}
	if opts.WaitFor != WaitForAccepted && opts.WaitFor != WaitForCompleted {
		return UpdateResult{}, fmt.Errorf("%w: update: wait for %q (want accepted or completed)", ErrInvalidArgument, opts.WaitFor)
	}
	var res UpdateResult
	if r, ok := c.forward(ctx); ok {
		rep, err := c.act(ctx, r, "update", actwire.Request{WorkflowID: workflowID, RunID: runID, Name: name, Input: raw, UpdateID: opts.UpdateID})
		if err != nil {
			return UpdateResult{}, err
		}
		if err := json.Unmarshal(rep.Data, &res); err != nil {
			return UpdateResult{}, fmt.Errorf("update %s: malformed answer from the engine: %w", name, err)
		}
	} else {
		if res, err = c.sendUpdate(ctx, workflowID, runID, updateRequest{UpdateID: opts.UpdateID, Name: name, Input: raw,
			Identity: c.principal, OnBehalfOf: c.onBehalfOf}); err != nil {
			return res, err
		}
	}
	// The engine acting for an operator never holds its action service
	// for a handler that may wait days for an approval: it answers once
	// accepted, and the operator's own client waits.
	if opts.WaitFor == WaitForCompleted && res.Stage != WaitForCompleted && !c.served {
		if res, err = c.awaitUpdate(ctx, res); err != nil {
			return res, err
		}
	}
	if res.Failure != nil {
		return res, fmt.Errorf("%w: %s on %q: %s", ErrUpdateFailed, name, workflowID, res.Failure.Message)
	}
	return res, nil
}

// AwaitUpdate waits until the accepted update updateID of a run completes
// (runID "" = the current run) and returns its outcome.
func (c *Client) AwaitUpdate(ctx context.Context, workflowID, runID, updateID string) (UpdateResult, error) {
	rec, err := c.resolve(ctx, workflowID, runID)
	if err != nil {
		return UpdateResult{}, err
	}
	res, err := c.awaitUpdate(ctx, UpdateResult{WorkflowID: workflowID, RunID: rec.RunID, UpdateID: updateID})
	if err == nil && res.Failure != nil {
		err = fmt.Errorf("%w: %s on %q: %s", ErrUpdateFailed, res.Name, workflowID, res.Failure.Message)
	}
	return res, err
}

// sendUpdate finds the run and a worker of its queue, and has the worker
// judge the update (worker_update.go). Lost answers and missing workers
// are retried with the same update id, which deduplication makes safe.
func (c *Client) sendUpdate(ctx context.Context, workflowID, runID string, req updateRequest) (UpdateResult, error) {
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		rctx, cancel = context.WithTimeout(ctx, UpdateRequestTimeout)
	}
	defer cancel()
	pause := 5 * time.Millisecond
	var lastErr error
	for {
		run, queue, err := c.openRun(rctx, workflowID, runID)
		if err != nil {
			return UpdateResult{}, err
		}
		req.RunID, req.WorkflowID = run, workflowID
		if err := signUpdate(c.store, &req); err != nil {
			return UpdateResult{}, err
		}
		data, err := c.store.Query(rctx, queue, mustJSON(queryRequest{RunID: run, Name: req.Name, Update: &req}))
		var resp updateResponse
		if err == nil {
			if err = json.Unmarshal(data, &resp); err != nil {
				return UpdateResult{}, fmt.Errorf("update %s: malformed answer: %w", req.Name, err)
			}
		}
		res := UpdateResult{WorkflowID: workflowID, RunID: run, UpdateID: req.UpdateID, Name: req.Name}
		switch {
		case err != nil:
			lastErr = fmt.Errorf("update %s on %q: %w (is a worker for task queue %s running?)", req.Name, workflowID, err, queue)
		case resp.Code == "":
			res.Stage, res.Result, res.Failure, res.seq = resp.Stage, resp.Result, resp.Failure, resp.Seq
			return res, nil
		case resp.Code == "rejected":
			return res, fmt.Errorf("%w: %s", ErrUpdateRejected, trimSentinel(resp.Error, ErrUpdateRejected))
		case resp.Code == "unknown_update":
			return res, fmt.Errorf("%w: %s", ErrUnknownUpdate, trimSentinel(resp.Error, ErrUnknownUpdate))
		case resp.Code == "closed":
			lastErr = fmt.Errorf("%w: %q run %s", ErrRunClosed, workflowID, run) // openRun tells on the next round
		default:
			lastErr = fmt.Errorf("update %s on %q: %s", req.Name, workflowID, resp.Error)
		}
		select {
		case <-rctx.Done():
			if ctx.Err() != nil {
				return UpdateResult{}, ctx.Err()
			}
			return UpdateResult{}, lastErr
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// trimSentinel drops the sentinel's text the worker's message starts with.
func trimSentinel(msg string, sentinel error) string {
	if p := sentinel.Error() + ": "; len(msg) >= len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

// openRun resolves the run an update goes to and its task queue: the
// current run, or its successor when it continued as new; a closed run
// refuses (ErrRunClosed).
func (c *Client) openRun(ctx context.Context, workflowID, runID string) (run, queue string, err error) {
	for {
		rec, err := c.resolve(ctx, workflowID, runID)
		if err != nil {
			return "", "", err
		}
		var last StoredBatch
		if rec.Start != nil {
			last, err = c.lastBatch(ctx, rec)
		} else {
			last, err = c.store.LastBatch(ctx, rec.RunID)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			return "", "", fmt.Errorf("%w: run %s of %q", ErrWorkflowNotFound, rec.RunID, workflowID)
		case err != nil:
			return "", "", err
		case last.Header.WorkflowID != workflowID:
			return "", "", fmt.Errorf("%w: run %s belongs to %q, not %q", ErrWorkflowNotFound, rec.RunID, last.Header.WorkflowID, workflowID)
		case last.Header.Kind == BatchImported:
			return "", "", importedErr(workflowID, rec.RunID)
		case !last.Header.Closed:
			return rec.RunID, last.Header.TaskQueue, nil
		case runID != "" || continuedAs(last) == "":
			return "", "", fmt.Errorf("%w: %q run %s accepts no update", ErrRunClosed, workflowID, rec.RunID)
		}
		// the current run continued as new: its successor takes the update once recorded
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// awaitUpdate waits for the completion of accepted update res. It reads
// the run's history after res.seq each time the client's shared reader of
// history headers sees a batch of the run (or after a recheck), so no wait
// takes a consumer of its own. When the run closes first, the update
// follows it to the run a reset made if that run kept the acceptance (its
// handler runs again there); otherwise it was aborted.
func (c *Client) awaitUpdate(ctx context.Context, res UpdateResult) (UpdateResult, error) {
	pos := res.seq
	for {
		var f *closeFollower
		var wake chan struct{}
		if c.closes != nil {
			var err error
			if f, err = c.closes.acquire(ctx); err != nil {
				return res, err
			}
			wake = make(chan struct{}, 1)
			c.closes.mu.Lock()
			f.every[res.RunID] = append(f.every[res.RunID], wake)
			c.closes.mu.Unlock()
		}
		done, next, err := c.scanUpdate(ctx, &res, &pos, f, wake)
		if f != nil {
			c.closes.release(f, res.RunID, wake)
		}
		if done || err != nil {
			return res, err
		}
		if next != "" {
			res.RunID, pos = next, 0
		}
	}
}

// scanUpdate reads the run's new batches until the update completes (done),
// the run closes into next, or the reader f stops (all false: start over).
func (c *Client) scanUpdate(ctx context.Context, res *UpdateResult, pos *uint64, f *closeFollower, wake chan struct{}) (done bool, next string, err error) {
	recheck := time.NewTimer(50 * time.Millisecond)
	defer recheck.Stop()
	every := 50 * time.Millisecond
	v, err := verifierOf(ctx, c.store)
	if err != nil {
		return false, "", err
	}
	var stopped <-chan struct{}
	if f != nil {
		stopped = f.done
		every = closeRecheckFirst
		recheck.Reset(every)
	}
	for {
		bs, err := c.store.ReadHistory(ctx, res.RunID, *pos)
		if err != nil {
			return false, "", err
		}
		for _, sb := range bs {
			*pos = sb.Seq
			var closed *runOutcome
			err := v.eachEvent(sb, func(e Event) error {
				switch a := e.Attrs.(type) {
				case *UpdateCompleted:
					if a.UpdateID == res.UpdateID {
						res.Stage, res.Name, res.Result, res.Failure = WaitForCompleted, a.Name, a.Result, a.Failure
						done = true
					}
				case *UpdateAccepted:
					if a.UpdateID == res.UpdateID && res.Stage == "" {
						res.Stage, res.Name = WaitForAccepted, a.Name
					}
				}
				if o, ok := closeOutcome(e); ok && closed == nil {
					closed = &o
				}
				return nil
			})
			if err != nil || done {
				return done, "", err
			}
			if closed != nil {
				if closed.next != "" && c.keptUpdate(ctx, closed.next, res.UpdateID) {
					return false, closed.next, nil
				}
				return false, "", fmt.Errorf("%w: %q run %s closed %s", ErrUpdateAborted, res.WorkflowID, res.RunID, closed.status)
			}
		}
		if res.Stage == "" {
			return false, "", fmt.Errorf("%w: run %s of %q accepted no update %s", ErrNotFound, res.RunID, res.WorkflowID, res.UpdateID)
		}
		select {
		case <-wake:
		case <-recheck.C:
			every = min(2*every, closeRecheckMax)
			recheck.Reset(every)
		case <-stopped:
			return false, "", nil
		case <-ctx.Done():
			return false, "", ctx.Err()
		}
	}
}

// keptUpdate tells whether run next (a reset's or continuation's new run)
// holds the acceptance of updateID, waiting briefly for it to be written.
func (c *Client) keptUpdate(ctx context.Context, next, updateID string) bool {
	for range 100 {
		events, err := readEvents(ctx, c.store, next)
		if err == nil && len(events) > 0 {
			for _, e := range events {
				if a, ok := e.Attrs.(*UpdateAccepted); ok && a.UpdateID == updateID {
					return true
				}
			}
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}
