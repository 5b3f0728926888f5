package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
		if sb.Header.FirstEventID > a.ToEventID {
			break
		}
		if min(sb.Header.LastEventID, a.ToEventID) <= have {
			continue // copied already
		}
		b, err := DecodeBatch(sb.Data)
		if err != nil {
			return fmt.Errorf("reset of %s: batch %d: %w", h.RunID, sb.Seq, err)
		}
		if sb.Header.LastEventID > a.ToEventID {
			// the point is inside the batch: a start stored with its first
			// workflow task (an eager start), copied as the start alone, or
			// workflow tasks stored together (a chain, worker_chain.go),
			// copied up to the end of one
			b.Events = slices.DeleteFunc(b.Events, func(e Event) bool { return e.ID > a.ToEventID })
			if last := b.Events[len(b.Events)-1]; b.Kind == BatchTask && last.Type == EventWorkflowTaskCompleted {
				b.TaskTime = last.Time
			} else {
				b.Kind, b.TaskTime = BatchExternal, time.Time{}
			}
		}
		// The copy's operator events are signed for the old run: the
		// engine screens them there and signs the genuine ones for the new
		// run, so replaying the copy sees what the old run saw.
		v, err := verifierOf(ctx, s)
		if err != nil {
			return err
		}
		v.screen(h.RunID, b)
		if err := signEvents(s, a.NewRunID, b.Events); err != nil {
			return err
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
		have = b.Events[len(b.Events)-1].ID
	}
	if have == a.ToEventID {
		b := &Batch{Kind: BatchExternal, Events: []Event{{ID: have + 1, Type: EventResetApplied, Time: at,
			Attrs: &ResetApplied{FromRunID: h.RunID, ToEventID: a.ToEventID, Reason: a.Reason, Identity: a.Identity}}}}
		for i, sig := range a.Signals {
			b.Events = append(b.Events, Event{ID: have + int64(i) + 2, Type: EventSignalReceived, Time: at, Attrs: &sig})
		}
		if err := signEvents(s, a.NewRunID, b.Events); err != nil {
			return err
		}
		data, err := encodeBatch(b)
		if err != nil {
			return err
		}
		if _, err := s.AppendHistory(ctx, headerFor(b, a.NewRunID, h.WorkflowID, h.TaskQueue), data, seq, "reset-"+a.NewRunID); err != nil && !errors.Is(err, ErrConflict) {
			return fmt.Errorf("reset of %s: %w", h.RunID, err)
		}
	}
	for range 10 {
		cur, rev, err := s.GetRun(ctx, h.WorkflowID)
		if err != nil {
			return fmt.Errorf("reset of %q: %w", h.WorkflowID, err)
		}
		if cur.RunID != h.RunID {
			return nil
		}
		// a conflict is another write to the old run's record (a child's
		// start marking it a parent): read it again
		if _, err := s.ReplaceRun(ctx, h.WorkflowID, RunRecord{RunID: a.NewRunID, CreatedAt: at}, rev); !errors.Is(err, ErrConflict) {
			if err != nil {
				return fmt.Errorf("reset of %q: %w", h.WorkflowID, err)
			}
			return nil
		}
	}
	return fmt.Errorf("reset of %q: %w", h.WorkflowID, ErrBusy)
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
	// The work open at the reset point, by seq, as the registry's entries
	// say each event opens, updates or closes it.
	type openWork struct {
		opened, last Event
	}
	open := map[int64]*openWork{}
	var order []int64 // seqs in the order first seen, for a stable dispatch order
	for _, e := range events {
		if e.ID >= upTo {
			break
		}
		switch effect, seq := specOf(e.Type).pendingOf(e.Attrs); effect {
		case pendingOpens:
			open[seq] = &openWork{opened: e, last: e}
			order = append(order, seq)
		case pendingUpdates:
			if w := open[seq]; w != nil {
				w.last = e
			}
		case pendingCloses:
			delete(open, seq)
		}
	}
	live := h
	live.Closed = false
	live.Eager = "" // the copied attempts are nobody's: their tasks are real
	for _, seq := range order {
		w := open[seq]
		if w == nil {
			continue
		}
		// The last event derives what is due now (an activity's first
		// attempt, or the retry after its last failed one); a retried
		// activity's schedule-to-close still counts from its schedule.
		if w.last.ID != w.opened.ID {
			if err := deriveScheduleToClose(ctx, s, live, w.opened); err != nil {
				return err
			}
		}
		if err := deriveEvent(ctx, s, live, w.last); err != nil {
			return err
		}
	}
	return nil
}
