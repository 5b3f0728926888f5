package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// finishReset builds the run a WorkflowReset names: it copies the old run's
// batches up to the reset point (inert: they wake nothing and derive
// nothing, their work is long done), appends ResetApplied with the signals
// to re-deliver (which wakes the run and re-dispatches what was pending),
// then makes the new run current. Every step checks what is already there,
// so a redelivery after a crash completes the reset exactly once.
func finishReset(ctx context.Context, s Store, h BatchHeader, at time.Time, a *WorkflowReset) error {
	old, err := s.ReadHistory(ctx, h.RunID, 0)
	if err != nil {
		return err
	}
	var have int64 // last event id already copied into the new run
	var seq uint64
	if last, err := s.LastBatch(ctx, a.NewRunID); err == nil {
		have, seq = last.Header.LastEventID, last.Seq
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, sb := range old {
		if sb.Header.LastEventID > a.ToEventID {
			break
		}
		if sb.Header.LastEventID <= have {
			continue
		}
		b, err := DecodeBatch(sb.Data)
		if err != nil {
			return fmt.Errorf("reset of %s: batch %d: %w", h.RunID, sb.Seq, err)
		}
		for i := range b.Events {
			if st, ok := b.Events[i].Attrs.(*WorkflowStarted); ok {
				c := *st
				c.RunID, c.ResetFrom, c.ContinuedFrom = a.NewRunID, h.RunID, ""
				b.Events[i].Attrs = &c
			}
		}
		if seq, err = appendInert(ctx, s, b, a.NewRunID, h, seq); err != nil {
			return err
		}
		have = sb.Header.LastEventID
	}
	if have == a.ToEventID {
		b := &Batch{Kind: BatchExternal, Events: []Event{{ID: have + 1, Type: EventResetApplied, Time: at,
			Attrs: &ResetApplied{FromRunID: h.RunID, ToEventID: a.ToEventID, Reason: a.Reason, Identity: a.Identity}}}}
		for i, sig := range a.Signals {
			b.Events = append(b.Events, Event{ID: have + int64(i) + 2, Type: EventSignalReceived, Time: at, Attrs: &sig})
		}
		data, err := encodeBatch(b)
		if err != nil {
			return err
		}
		if _, err := s.AppendHistory(ctx, headerFor(b, a.NewRunID, h.WorkflowID, h.TaskQueue), data, seq, "reset-"+a.NewRunID); err != nil && !errors.Is(err, ErrConflict) {
			return fmt.Errorf("reset of %s: %w", h.RunID, err)
		}
	}
	cur, rev, err := s.GetRun(ctx, h.WorkflowID)
	if err != nil {
		return fmt.Errorf("reset of %q: %w", h.WorkflowID, err)
	}
	if cur.RunID == h.RunID {
		if _, err := s.ReplaceRun(ctx, h.WorkflowID, RunRecord{RunID: a.NewRunID, CreatedAt: at}, rev); err != nil && !errors.Is(err, ErrConflict) {
			return fmt.Errorf("reset of %q: %w", h.WorkflowID, err)
		}
	}
	return nil
}

// appendInert appends a copied batch that must not wake or derive anything.
func appendInert(ctx context.Context, s Store, b *Batch, runID string, old BatchHeader, after uint64) (uint64, error) {
	data, err := encodeBatch(b)
	if err != nil {
		return 0, err
	}
	h := headerFor(b, runID, old.WorkflowID, old.TaskQueue)
	h.Wake, h.Derive = false, false
	msgID := fmt.Sprintf("reset-%s-%d", runID, h.FirstEventID)
	seq, err := s.AppendHistory(ctx, h, data, after, msgID)
	if err != nil {
		return 0, fmt.Errorf("copying history into reset run %s: %w", runID, err)
	}
	return seq, nil
}

// redispatchPending re-derives the tasks and timers of the work a reset run
// had pending at its reset point (events before upTo): activities still to
// run (or to retry), timers, approval timeouts. Their message ids and timer
// keys name the new run, so nothing of the old run's is reused or revived.
func redispatchPending(ctx context.Context, s Store, h BatchHeader, upTo int64) error {
	events, err := readEvents(ctx, s, h.RunID)
	if err != nil {
		return err
	}
	type pendingAct struct {
		scheduled, last Event
	}
	acts := map[int64]*pendingAct{}
	timers := map[int64]Event{}
	approvals := map[int64]Event{}
	var order []int64 // seqs in the order first seen, for a stable dispatch order
	for _, e := range events {
		if e.ID >= upTo {
			break
		}
		switch a := e.Attrs.(type) {
		case *ActivityScheduled:
			acts[a.Seq] = &pendingAct{scheduled: e, last: e}
			order = append(order, a.Seq)
		case *ActivityAttemptFailed:
			if p := acts[a.Seq]; p != nil {
				p.last = e
			}
		case *ActivityCompleted:
			delete(acts, a.Seq)
		case *ActivityFailed:
			delete(acts, a.Seq)
		case *ActivityCancelRequested:
			delete(acts, a.Seq)
		case *TimerStarted:
			timers[a.Seq] = e
			order = append(order, a.Seq)
		case *TimerFired:
			delete(timers, a.Seq)
		case *TimerCanceled:
			delete(timers, a.Seq)
		case *ApprovalRequested:
			approvals[a.Seq] = e
			order = append(order, a.Seq)
		case *ApprovalDecided:
			delete(approvals, a.Seq)
		case *ApprovalTimedOut:
			delete(approvals, a.Seq)
		}
	}
	live := h
	live.Closed = false
	for _, seq := range order {
		var e Event
		switch {
		case acts[seq] != nil:
			e = acts[seq].last // first attempt, or the retry after the last failed one
			if sch := acts[seq].scheduled; e.ID != sch.ID {
				if err := deriveScheduleToClose(ctx, s, live, sch); err != nil {
					return err
				}
			}
		case timers[seq].ID != 0:
			e = timers[seq]
		case approvals[seq].ID != 0:
			e = approvals[seq]
		default:
			continue
		}
		if err := deriveEvent(ctx, s, live, e); err != nil {
			return err
		}
	}
	return nil
}
