package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/foremanhq/foreman/internal/audit"
)

// rejectForgery is the engine's answer to operator events a batch holds
// without its signature (b is the batch as screened): each is recorded to
// the audit stream, and when the forged batch claimed to close a run that
// is in truth open, the engine appends an OperatorEventRejected batch of
// its own after it, so that the run's last batch is open again for the
// readers that only look at headers (see opauth.go). Redelivery is
// harmless: audit records carry message ids, and the reopening append
// expects the forged batch to be the last one.
func rejectForgery(ctx context.Context, s Store, sb StoredBatch, b *Batch, forged []Event) error {
	if l, ok := s.(audit.Log); ok {
		for _, e := range forged {
			a := e.Attrs.(operatorAttrs)
			why := "unsigned or badly signed " + string(e.Type) + " appended to history outside the engine; ignored"
			rec := audit.Record{Time: e.Time, Principal: a.principal(), Action: "forged-" + string(e.Type),
				Targets: []string{sb.Header.WorkflowID + "/" + sb.Header.RunID}, Outcome: audit.Forged, Why: why}
			if err := l.AppendAudit(ctx, rec, "forged-"+sb.Header.RunID+"-"+strconv.FormatInt(e.ID, 10)); err != nil {
				return fmt.Errorf("auditing a forged event of run %s: %w", sb.Header.RunID, err)
			}
		}
	}
	if !sb.Header.Closed || closes(b) {
		return nil
	}
	events, err := readEvents(ctx, s, sb.Header.RunID)
	if err != nil {
		return err
	}
	if Summarize(events).Status != StatusRunning {
		return nil // closed before the forgery: nothing to reopen
	}
	last := forged[len(forged)-1]
	rb := &Batch{Kind: BatchExternal, Events: []Event{{ID: sb.Header.LastEventID + 1, Type: EventOperatorEventRejected, Time: clockOf(s).Now().UTC(),
		Attrs: &OperatorEventRejected{EventID: last.ID, Type: last.Type, Principal: last.Attrs.(operatorAttrs).principal(), Reason: "forged close: the run stays open", Reopens: true}}}}
	data, err := encodeBatch(rb)
	if err != nil {
		return err
	}
	_, err = s.AppendHistory(ctx, headerFor(rb, sb.Header.RunID, sb.Header.WorkflowID, sb.Header.TaskQueue), data, sb.Seq, "reopen-"+sb.Header.RunID+"-"+strconv.FormatUint(sb.Seq, 10))
	if errors.Is(err, ErrConflict) {
		return nil // something came after the forgery: that is the last batch now
	}
	return err
}
