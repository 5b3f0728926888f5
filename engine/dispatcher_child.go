package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// What the dispatcher derives for child workflows and external signals.
// Each step checks what is already there (a child run's id is fixed by
// its parent's command, a signal carries its request id), so a redelivery
// after a crash at any point completes the work exactly once; the parent
// hears of each step through a workflow task, judged against its state
// (worker_child.go).

// testHookChildStart, set by tests, runs between a child's run record and
// the parent's notice; an error stands for a crash there.
var testHookChildStart func(runID string) error

// deriveStartChild starts the child a parent's command names (attempt 1).
func deriveStartChild(ctx context.Context, s Store, h BatchHeader, e Event, a *StartChildWorkflowRequested) error {
	return startChild(ctx, s, h, a, 1, a.RunID, time.Time{}, e.Time)
}

// startChild starts one attempt of a child as run runID, its code
// starting at wakeAt (a retry's backoff; zero: at once), and tells the
// parent (run h.RunID).
func startChild(ctx context.Context, s Store, h BatchHeader, a *StartChildWorkflowRequested, attempt int, runID string, wakeAt, at time.Time) error {
	if f, err := commandRefusal(ctx, s, h, EventStartChildWorkflowRequested, a, a.Seq, attempt, "start-child", a.WorkflowID, a.TaskQueue); f != nil || err != nil {
		if err != nil {
			return err
		}
		// fails as a start that found its id taken does: no child run
		in := &inbound{Kind: inboundChildStartFailed, Seq: a.Seq, Key: a.RunID, Attempt: attempt, Failure: f}
		if attempt > 1 {
			in.Kind, in.Status = inboundChildClosed, StatusFailed
		}
		return notify(ctx, s, h.WorkflowID, h.RunID, h.TaskQueue, in)
	}
	if err := markParent(ctx, s, h); err != nil {
		return err
	}
	ref := &ParentRef{WorkflowID: h.WorkflowID, RunID: h.RunID, TaskQueue: h.TaskQueue, Seq: a.Seq, Key: a.RunID, Attempt: attempt,
		ParentClosePolicy: a.ParentClosePolicy, RootWorkflowID: a.RootWorkflowID, RootRunID: a.RootRunID}
	b := &Batch{Kind: BatchExternal, Events: []Event{{ID: 1, Type: EventWorkflowStarted, Time: at, Attrs: &WorkflowStarted{
		WorkflowID: a.WorkflowID, RunID: runID, WorkflowType: a.WorkflowType, TaskQueue: a.TaskQueue, Input: a.Input,
		Identity: "workflow:" + h.WorkflowID, Parent: ref}}}}
	data, err := encodeBatch(b)
	if err != nil {
		return err
	}
	sh := headerFor(b, runID, a.WorkflowID, a.TaskQueue)
	sh.Trace = h.Trace // the child's trace hangs under the parent's task that started it
	if wakeAt.After(clockOf(s).Now()) {
		// the run exists at once (searchable, its parent's), its code
		// starts after the backoff
		sh.Wake = false
		t, _ := json.Marshal(workflowTask{RunID: runID, WorkflowID: a.WorkflowID})
		key := timerKey(runID, "childwake", int64(attempt))
		body, _ := json.Marshal(storedTimerBody{Kind: WorkflowTaskKind, Queue: a.TaskQueue, MsgID: "tm-" + key, Task: t})
		if err := s.PutTimer(ctx, StoredTimer{Key: key, FireAt: wakeAt, Data: body}); err != nil {
			return fmt.Errorf("starting child %s: %w", a.WorkflowID, err)
		}
	}
	rec := RunRecord{RunID: runID, CreatedAt: at, Start: data, StartHeader: sh}
	_, err = claimRun(ctx, s, a.WorkflowID, rec, AllowDuplicate)
	in := &inbound{Kind: inboundChildStarted, Seq: a.Seq, Key: a.RunID, Attempt: attempt, RunID: runID}
	switch {
	case errors.Is(err, ErrAlreadyStarted) && attempt == 1:
		in.Kind, in.Failure = inboundChildStartFailed, &Failure{Type: failureType(err), Message: err.Error(), NonRetryable: true}
	case errors.Is(err, ErrAlreadyStarted):
		in.Kind, in.Status = inboundChildClosed, StatusFailed
		in.Failure = &Failure{Type: failureType(err), Message: err.Error(), NonRetryable: true}
	case err != nil:
		return err
	}
	if testHookChildStart != nil {
		if err := testHookChildStart(runID); err != nil {
			return err
		}
	}
	if err := notify(ctx, s, h.WorkflowID, h.RunID, h.TaskQueue, in); err != nil {
		return err
	}
	if in.Kind != inboundChildStarted {
		return nil
	}
	// The parent may have closed meanwhile (its close was derived
	// concurrently, before this start): apply its close policy now.
	if last, err := s.LastBatch(ctx, h.RunID); err == nil && closedNotByReset(last) {
		return stopChild(ctx, s, h.WorkflowID, ChildRun{WorkflowID: a.WorkflowID, Key: a.RunID, ParentClosePolicy: a.ParentClosePolicy, Status: StatusRunning})
	}
	return nil
}

// closedNotByReset tells whether the batch closes its run, other than by a
// reset (whose new run carries the children on).
func closedNotByReset(last StoredBatch) bool {
	if !last.Header.Closed {
		return false
	}
	b, err := DecodeBatch(last.Data)
	if err != nil {
		return false
	}
	for _, e := range b.Events {
		if e.Type == EventWorkflowReset {
			return false
		}
	}
	return true
}

// markParent records on the parent's run record that it has children, so
// its close reads its history for them.
func markParent(ctx context.Context, s Store, h BatchHeader) error {
	for range 10 {
		rec, rev, err := s.GetRun(ctx, h.WorkflowID)
		if errors.Is(err, ErrNotFound) || err == nil && (rec.RunID != h.RunID || rec.Children) {
			return nil // another run's record: its close reads history anyway
		}
		if err != nil {
			return fmt.Errorf("marking %s as a parent: %w", h.WorkflowID, err)
		}
		rec.Children = true
		if _, err := s.ReplaceRun(ctx, h.WorkflowID, rec, rev); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("marking %s as a parent: %w", h.WorkflowID, ErrBusy)
}

// notify publishes a workflow task carrying in to run runID.
func notify(ctx context.Context, s Store, workflowID, runID, queue string, in *inbound) error {
	t, _ := json.Marshal(workflowTask{RunID: runID, WorkflowID: workflowID, Inbound: in})
	msgID := fmt.Sprintf("n-%s-%s-%d-%s-%d", in.Kind, runID, in.Seq, in.Key, in.Attempt)
	return s.PublishTask(ctx, WorkflowTaskKind, queue, t, msgID)
}

// deriveChildStarted tells the parent at once when the child it just
// recorded as started has closed already: the close notice went to a run
// that a reset replaced by this one.
func deriveChildStarted(ctx context.Context, s Store, h BatchHeader, _ Event, a *ChildWorkflowStarted) error {
	last, err := s.LastBatch(ctx, a.RunID)
	if err != nil || !last.Header.Closed {
		return nil
	}
	b, err := DecodeBatch(last.Data)
	if err != nil {
		return nil
	}
	for _, e := range b.Events {
		if o, ok := closeOutcome(e); ok && o.next == "" {
			ws, err := runStart(ctx, s, a.RunID)
			if err != nil || ws.Parent == nil {
				return err
			}
			return notify(ctx, s, h.WorkflowID, h.RunID, h.TaskQueue, closeNotice(ws.Parent, a.RunID, o))
		}
	}
	return nil
}

// runStart returns a run's WorkflowStarted.
func runStart(ctx context.Context, s Store, runID string) (*WorkflowStarted, error) {
	batches, err := s.ReadHistory(ctx, runID, 0)
	if err != nil {
		return nil, err
	}
	if len(batches) == 0 {
		return nil, fmt.Errorf("run %s: %w", runID, ErrNotFound)
	}
	return startOf(batches[0].Data)
}

func startOf(data []byte) (*WorkflowStarted, error) {
	b, err := DecodeBatch(data)
	if err != nil {
		return nil, err
	}
	if len(b.Events) == 0 {
		return nil, fmt.Errorf("a start batch without events")
	}
	ws, ok := b.Events[0].Attrs.(*WorkflowStarted)
	if !ok {
		return nil, fmt.Errorf("a run starting with %s", b.Events[0].Type)
	}
	return ws, nil
}

func closeNotice(p *ParentRef, runID string, o runOutcome) *inbound {
	return &inbound{Kind: inboundChildClosed, Seq: p.Seq, Key: p.Key, Attempt: p.Attempt, RunID: runID, Status: o.status, Result: o.result, Failure: o.failure}
}

// deriveChildRetry starts the next attempt of a child whose run failed.
func deriveChildRetry(ctx context.Context, s Store, h BatchHeader, e Event, a *ChildWorkflowAttemptFailed) error {
	events, err := readEvents(ctx, s, h.RunID)
	if err != nil {
		return err
	}
	for _, ev := range events {
		if req, ok := ev.Attrs.(*StartChildWorkflowRequested); ok && req.Seq == a.Seq {
			return startChild(ctx, s, h, req, a.Attempt+1, a.NextRunID, a.NextAttempt, e.Time)
		}
	}
	return nil
}

// deriveChildCancel asks a child to cancel (its parent's context was).
func deriveChildCancel(ctx context.Context, s Store, h BatchHeader, _ Event, a *ChildWorkflowCancelRequested) error {
	c := ChildRun{WorkflowID: a.WorkflowID, Key: a.Key, ParentClosePolicy: ParentCloseRequestCancel, CancelRequested: true}
	err := stopChildIf(ctx, s, h.WorkflowID, c, func(x *Execution) error {
		return checkCommand(ctx, s, EventChildWorkflowCancelRequested, a, x.TaskQueue)
	})
	var d *commandDenied
	if errors.As(err, &d) {
		// nothing waits on a cancellation's outcome: the refusal is audited
		_, err = refuseCommand(ctx, s, h, a.Seq, 1, "cancel-child", a.WorkflowID, d)
	}
	return err
}

// errNothingToDo ends an append that finds its work done already.
var errNothingToDo = errors.New("nothing to do")

// engineClient is the engine acting on runs itself (signed, never forwarded).
func engineClient(s Store, principal string) *Client {
	return &Client{store: s, identity: principal, acting: acting{principal: principal, served: true}}
}

// stopChild applies a child's parent close policy to it (terminate or
// request cancel; abandon does nothing), if the child's current run is
// still open and is that parent's child. A second call finds it done.
func stopChild(ctx context.Context, s Store, parentID string, c ChildRun) error {
	return stopChildIf(ctx, s, parentID, c, nil)
}

// stopChildIf is stopChild, done only when allowed (nil: always) passes
// for the child's run; its error is returned as it is.
func stopChildIf(ctx context.Context, s Store, parentID string, c ChildRun, allowed func(x *Execution) error) error {
	if c.ParentClosePolicy == ParentCloseAbandon {
		return nil
	}
	_, err := engineClient(s, "engine").appendExternal(ctx, c.WorkflowID, "", true, func(x *Execution) ([]Event, error) {
		if x.Parent == nil || x.Parent.Key != c.Key {
			return nil, errNothingToDo // the id is another run's now
		}
		if allowed != nil {
			if err := allowed(x); err != nil {
				return nil, err
			}
		}
		reason := fmt.Sprintf("parent %s closed (parent close policy %s)", parentID, c.ParentClosePolicy)
		if c.ParentClosePolicy == ParentCloseTerminate {
			return []Event{{Type: EventWorkflowTerminated, Attrs: &WorkflowTerminated{Reason: reason}}}, nil
		}
		if x.CancelRequested {
			return nil, errNothingToDo
		}
		if c.CancelRequested {
			reason = "parent " + parentID + " canceled it"
		}
		return []Event{{Type: EventWorkflowCancelRequested, Attrs: &WorkflowCancelRequested{Reason: reason}}}, nil
	})
	switch {
	case errors.Is(err, errNothingToDo) || errors.Is(err, ErrRunClosed):
		return nil
	case errors.Is(err, ErrWorkflowNotFound) && c.Status == ChildStarting:
		// its start, still being derived, applies the policy itself once
		// it finds the parent closed
		return nil
	}
	return err // not found: the start is being derived; redelivery retries
}

// deriveExternalSignal delivers a signal sent by workflow code, once, and
// tells the sender.
func deriveExternalSignal(ctx context.Context, s Store, h BatchHeader, _ Event, a *ExternalSignalRequested) error {
	c := engineClient(s, "workflow:"+h.WorkflowID)
	in := &inbound{Kind: inboundSignalSent, Seq: a.Seq}
	run, err := c.appendExternal(ctx, a.WorkflowID, a.RunID, true, func(x *Execution) ([]Event, error) {
		events, err := readEvents(ctx, s, x.RunID)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			if sig, ok := e.Attrs.(*SignalReceived); ok && sig.RequestID == a.RequestID {
				return nil, errNothingToDo // delivered before a crash
			}
		}
		if err := checkCommand(ctx, s, EventExternalSignalRequested, a, x.TaskQueue); err != nil {
			return nil, err
		}
		return []Event{{Type: EventSignalReceived, Attrs: &SignalReceived{Name: a.Name, Payload: a.Payload, RequestID: a.RequestID}}}, nil
	})
	var d *commandDenied
	switch {
	case err == nil || errors.Is(err, errNothingToDo):
		in.RunID = run.RunID
	case errors.As(err, &d):
		if in.Failure, err = refuseCommand(ctx, s, h, a.Seq, 1, "signal-external", a.WorkflowID, d); err != nil {
			return err
		}
	case errors.Is(err, ErrWorkflowNotFound) || errors.Is(err, ErrRunClosed):
		in.Failure = &Failure{Type: failureType(err), Message: err.Error(), NonRetryable: true}
	default:
		return err
	}
	return notify(ctx, s, h.WorkflowID, h.RunID, h.TaskQueue, in)
}

// deriveRunClosed runs when a run closes: a child's final close goes to
// its parent, and a parent's open children get their parent close policy.
// The run's record tells both without reading history in the common case
// (a run with no children whose record is still current).
func deriveRunClosed(ctx context.Context, s Store, h BatchHeader, b *Batch) error {
	var closing Event
	for _, e := range b.Events {
		if e.Type.Closes() {
			closing = e
		}
	}
	o, ok := closeOutcome(closing)
	if !ok {
		return nil
	}
	var parent *ParentRef
	var x *Execution
	rec, _, err := s.GetRun(ctx, h.WorkflowID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err == nil && rec.RunID == h.RunID && rec.Start != nil && !rec.Children {
		ws, err := startOf(rec.Start)
		if err != nil {
			return nil // an unreadable start: replay reports it
		}
		parent = ws.Parent
	} else {
		events, err := readEvents(ctx, s, h.RunID)
		if err != nil {
			return err
		}
		x = Summarize(events)
		parent = x.Parent
	}
	if parent != nil && o.next == "" {
		if err := notifyParent(ctx, s, parent, h.RunID, o); err != nil {
			return err
		}
	}
	if x == nil {
		return nil
	}
	reset, _ := closing.Attrs.(*WorkflowReset)
	for _, c := range x.Children {
		if !c.Open() || reset != nil && c.RequestEventID <= reset.ToEventID {
			continue // closed, or the reset run carries it on
		}
		if err := stopChild(ctx, s, h.WorkflowID, c); err != nil {
			return err
		}
	}
	return nil
}

// notifyParent tells the parent run a child's chain closed, and the
// parent's current run too when a reset replaced the one that started it
// (it carries the child on; a continued parent's new run drops the notice).
func notifyParent(ctx context.Context, s Store, p *ParentRef, runID string, o runOutcome) error {
	in := closeNotice(p, runID, o)
	if err := notify(ctx, s, p.WorkflowID, p.RunID, p.TaskQueue, in); err != nil {
		return err
	}
	if cur, _, err := s.GetRun(ctx, p.WorkflowID); err == nil && cur.RunID != p.RunID {
		return notify(ctx, s, p.WorkflowID, cur.RunID, p.TaskQueue, in)
	}
	return nil
}
