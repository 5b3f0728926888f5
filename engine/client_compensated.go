package engine

import (
	"context"
	"errors"
	"fmt"
)

// MarkCompensated records on a closed run that an operator-started
// compensation (the run via) ran its whole plan. It is idempotent, and
// refused on an open run (a compensation closes it first).
func (c *Client) MarkCompensated(ctx context.Context, workflowID, runID, via string, steps int) error {
	rec, err := c.resolve(ctx, workflowID, runID)
	if err != nil {
		return err
	}
	for range 10 {
		batches, err := c.store.ReadHistory(ctx, rec.RunID, 0)
		if err != nil {
			return err
		}
		if len(batches) == 0 {
			return fmt.Errorf("%w: run %s of %q", ErrWorkflowNotFound, rec.RunID, workflowID)
		}
		if batches[len(batches)-1].Header.Kind == BatchImported {
			return importedErr(workflowID, rec.RunID)
		}
		closed := false
		for _, sb := range batches {
			closed = closed || sb.Header.Closed
			b, err := DecodeBatch(sb.Data)
			if err != nil {
				return err
			}
			for _, e := range b.Events {
				if _, ok := e.Attrs.(*RunCompensated); ok {
					return nil // already recorded
				}
			}
		}
		if !closed {
			return fmt.Errorf("run %s of %q is still open: close it before marking it compensated", rec.RunID, workflowID)
		}
		last := batches[len(batches)-1]
		b := &Batch{Kind: BatchExternal, Events: []Event{{ID: last.Header.LastEventID + 1, Type: EventRunCompensated, Time: clockOf(c.store).Now().UTC(),
			Attrs: &RunCompensated{Via: via, Steps: steps}}}}
		c.stamp(b.Events)
		if err := signEvents(c.store, rec.RunID, b.Events); err != nil {
			return err
		}
		data, err := encodeBatch(b)
		if err != nil {
			return err
		}
		h := headerFor(b, rec.RunID, workflowID, last.Header.TaskQueue)
		h.Closed, h.Wake = true, false // an annotation of a closed run: nothing to run
		_, err = c.store.AppendHistory(ctx, h, data, last.Seq, "")
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("%w: %q", ErrBusy, workflowID)
}
