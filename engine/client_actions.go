package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/internal/actwire"
)

// appendExternal appends events built from the run's current state to its
// history, retrying when the history moved under it. It refuses closed runs.
func (c *Client) appendExternal(ctx context.Context, workflowID, runID string, needHistory bool,
	build func(x *Execution) ([]Event, error)) (Run, error) {
	rec, err := c.resolve(ctx, workflowID, runID)
	if err != nil {
		return Run{}, err
	}
	run := Run{WorkflowID: workflowID, RunID: rec.RunID}
	chainDeadline := time.Now().Add(10 * time.Second)
	for attempt := 0; attempt < 20; attempt++ {
		var last StoredBatch
		if rec.Start != nil {
			last, err = c.lastBatch(ctx, rec)
		} else {
			last, err = c.store.LastBatch(ctx, rec.RunID)
		}
		if errors.Is(err, ErrNotFound) {
			return run, fmt.Errorf("%w: run %s of %q", ErrWorkflowNotFound, rec.RunID, workflowID)
		}
		if err != nil {
			return run, err
		}
		if last.Header.WorkflowID != workflowID {
			return run, fmt.Errorf("%w: run %s belongs to %q, not %q", ErrWorkflowNotFound, rec.RunID, last.Header.WorkflowID, workflowID)
		}
		if last.Header.Kind == BatchImported {
			return run, importedErr(workflowID, rec.RunID)
		}
		if last.Header.Closed {
			if runID == "" && continuedAs(last) != "" && time.Now().Before(chainDeadline) {
				// the current run continued as new: act on its successor once it is recorded
				time.Sleep(5 * time.Millisecond)
				if rec, err = c.resolve(ctx, workflowID, ""); err != nil {
					return run, err
				}
				run.RunID = rec.RunID
				attempt--
				continue
			}
			return run, fmt.Errorf("%w: %q run %s", ErrRunClosed, workflowID, rec.RunID)
		}
		if last.Header.LastEventID >= HistoryLimit {
			return run, fmt.Errorf("%w: %q has %d events", ErrHistoryLimit, workflowID, last.Header.LastEventID)
		}
		x := &Execution{}
		if needHistory {
			events, err := readEvents(ctx, c.store, rec.RunID)
			if err != nil {
				return run, err
			}
			if n := len(events); n == 0 || events[n-1].ID != last.Header.LastEventID {
				continue // history moved between the two reads
			}
			x = Summarize(events)
		}
		events, err := build(x)
		if err != nil {
			return run, err
		}
		// Never before the events history holds: the store's clock has
		// read last's server stamp, which no event in it is after.
		now := clockOf(c.store).Now().UTC()
		for i := range events {
			events[i].ID, events[i].Time = last.Header.LastEventID+int64(i)+1, now
		}
		c.stamp(events)
		if err := signEvents(c.store, rec.RunID, events); err != nil {
			return run, err
		}
		b := &Batch{Kind: BatchExternal, Events: events}
		data, err := encodeBatch(b)
		if err != nil {
			return run, err
		}
		_, err = c.store.AppendHistory(ctx, headerFor(b, rec.RunID, workflowID, last.Header.TaskQueue), data, last.Seq, "")
		if errors.Is(err, ErrConflict) {
			continue
		}
		return run, err
	}
	return run, fmt.Errorf("%w: %q", ErrBusy, workflowID)
}

func (c *Client) signalEvent(name string, payload any) (*Event, error) {
	if name == "" {
		return nil, errors.New("signal: a signal name is required")
	}
	raw, err := encodePayload(payload, "payload of signal "+name)
	if err != nil {
		return nil, err
	}
	return &Event{Type: EventSignalReceived, Attrs: &SignalReceived{Name: name, Payload: raw, Identity: c.identity}}, nil
}

// Signal delivers a named signal to a run (runID "" = the current run). It
// is durable once Signal returns nil; a closed run refuses it (ErrRunClosed).
func (c *Client) Signal(ctx context.Context, workflowID, runID, name string, payload any) error {
	ev, err := c.signalEvent(name, payload)
	if err != nil {
		return err
	}
	if r, ok := c.forward(ctx); ok {
		_, err := c.act(ctx, r, "signal", actwire.Request{WorkflowID: workflowID, RunID: runID, Name: name, Input: ev.Attrs.(*SignalReceived).Payload})
		return err
	}
	_, err = c.appendExternal(ctx, workflowID, runID, false, func(*Execution) ([]Event, error) { return []Event{*ev}, nil })
	return err
}

// Cancel asks a run to cancel: its context is cancelled, and its code
// decides how to end (cleanup may still run).
func (c *Client) Cancel(ctx context.Context, workflowID, runID, reason string) error {
	if r, ok := c.forward(ctx); ok {
		_, err := c.act(ctx, r, "cancel", actwire.Request{WorkflowID: workflowID, RunID: runID, Reason: reason})
		return err
	}
	_, err := c.appendExternal(ctx, workflowID, runID, false, func(*Execution) ([]Event, error) {
		return []Event{{Type: EventWorkflowCancelRequested, Attrs: &WorkflowCancelRequested{Reason: reason, Identity: c.identity}}}, nil
	})
	return err
}

// Terminate closes a run at once; no workflow code runs.
func (c *Client) Terminate(ctx context.Context, workflowID, runID, reason string) error {
	if r, ok := c.forward(ctx); ok {
		_, err := c.act(ctx, r, "terminate", actwire.Request{WorkflowID: workflowID, RunID: runID, Reason: reason})
		return err
	}
	_, err := c.appendExternal(ctx, workflowID, runID, false, func(*Execution) ([]Event, error) {
		return []Event{{Type: EventWorkflowTerminated, Attrs: &WorkflowTerminated{Reason: reason, Identity: c.identity}}}, nil
	})
	return err
}

// Decide approves or rejects the pending approval called name, as the
// client's principal. It refuses when there is no such pending approval
// (never requested, or already decided) or the principal may not decide
// it (the approvers, four-eyes: checked where the decision is appended,
// which is the engine once operator events are signed).
func (c *Client) Decide(ctx context.Context, workflowID, runID, name string, approved bool, comment string) error {
	if r, ok := c.forward(ctx); ok {
		action := "approve"
		if !approved {
			action = "reject"
		}
		_, err := c.act(ctx, r, action, actwire.Request{WorkflowID: workflowID, RunID: runID, Approval: name, Comment: comment})
		return err
	}
	_, err := c.appendExternal(ctx, workflowID, runID, true, func(x *Execution) ([]Event, error) {
		for _, p := range x.Approvals {
			if p.Name != name {
				continue
			}
			if err := c.mayDecide(x, p); err != nil {
				return nil, err
			}
			return []Event{{Type: EventApprovalDecided, Attrs: &ApprovalDecided{Seq: p.Seq, Name: name, Approved: approved, Comment: comment}}}, nil
		}
		return nil, fmt.Errorf("%w: %q has no pending approval %q", ErrNoSuchApproval, workflowID, name)
	})
	return err
}

// QueryTimeout bounds how long Query waits for a worker when ctx has no deadline.
const QueryTimeout = 10 * time.Second

// Query runs a query handler (or a built-in: __stack, __pending) on a
// worker of the run's task queue and returns its JSON answer.
func (c *Client) Query(ctx context.Context, workflowID, runID, name string, args any) (json.RawMessage, error) {
	rec, err := c.resolve(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	last, err := c.store.LastBatch(ctx, rec.RunID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrWorkflowNotFound, workflowID)
	}
	if err != nil {
		return nil, err
	}
	if last.Header.Kind == BatchImported {
		// No worker runs it; a worker of its queue would replay the copy
		// against whatever code it has. Its history says what it did.
		return nil, fmt.Errorf("query %s: %w", name, importedErr(workflowID, rec.RunID))
	}
	raw, err := encodePayload(args, "query arguments")
	if err != nil {
		return nil, err
	}
	req, _ := json.Marshal(queryRequest{RunID: rec.RunID, Name: name, Args: raw})
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, QueryTimeout)
		defer cancel()
	}
	data, err := c.store.Query(ctx, last.Header.TaskQueue, req)
	if err != nil {
		return nil, fmt.Errorf("query %s on %q: %w (is a worker for task queue %s running?)", name, workflowID, err, last.Header.TaskQueue)
	}
	var resp queryResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("query %s: malformed answer: %w", name, err)
	}
	if resp.Error != "" {
		if resp.Code == "unknown_query" {
			// The worker's message starts with ErrUnknownQuery's own text.
			return nil, fmt.Errorf("%w: %s", ErrUnknownQuery, strings.TrimPrefix(resp.Error, ErrUnknownQuery.Error()+": "))
		}
		return nil, fmt.Errorf("query %s on %q failed: %s", name, workflowID, resp.Error)
	}
	return resp.Result, nil
}
