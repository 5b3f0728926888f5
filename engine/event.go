package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// EventType names a history event. The zero value is invalid.
type EventType string

// Every event type a history may hold. Command events are produced by
// workflow code and checked against the code on replay; the others are
// facts from outside the code (a result, a signal, an operator).
//
// Adding one takes a constant here, its attributes struct (event_attrs.go)
// and its entry in the registry (event_table_*.go, see event_spec.go);
// TestEventRegistryComplete names whatever is missing.
const (
	EventWorkflowStarted          EventType = "WorkflowStarted"
	EventWorkflowTaskCompleted    EventType = "WorkflowTaskCompleted"
	EventWorkflowTaskFailed       EventType = "WorkflowTaskFailed"
	EventActivityScheduled        EventType = "ActivityScheduled"
	EventActivityAttemptFailed    EventType = "ActivityAttemptFailed"
	EventActivityCompleted        EventType = "ActivityCompleted"
	EventActivityFailed           EventType = "ActivityFailed"
	EventActivityCancelRequested  EventType = "ActivityCancelRequested"
	EventTimerStarted             EventType = "TimerStarted"
	EventTimerFired               EventType = "TimerFired"
	EventTimerCanceled            EventType = "TimerCanceled"
	EventSignalReceived           EventType = "SignalReceived"
	EventMarkerRecorded           EventType = "MarkerRecorded"
	EventApprovalRequested        EventType = "ApprovalRequested"
	EventApprovalDecided          EventType = "ApprovalDecided"
	EventApprovalTimedOut         EventType = "ApprovalTimedOut"
	EventStatusSet                EventType = "StatusSet"
	EventProgressSet              EventType = "ProgressSet"
	EventSearchAttributesUpserted EventType = "SearchAttributesUpserted"
	EventWorkflowCancelRequested  EventType = "WorkflowCancelRequested"
	EventWorkflowCompleted        EventType = "WorkflowCompleted"
	EventWorkflowFailed           EventType = "WorkflowFailed"
	EventWorkflowCanceled         EventType = "WorkflowCanceled"
	EventWorkflowTerminated       EventType = "WorkflowTerminated"
	EventWorkflowContinuedAsNew   EventType = "WorkflowContinuedAsNew"
	EventWorkflowReset            EventType = "WorkflowReset"
	EventResetApplied             EventType = "ResetApplied"
	EventRunCompensated           EventType = "RunCompensated"
	EventRunImported              EventType = "RunImported"
	EventOperatorEventRejected    EventType = "OperatorEventRejected"
	// Child workflows and external signals (event_table_child.go).
	EventStartChildWorkflowRequested  EventType = "StartChildWorkflowRequested"
	EventChildWorkflowStarted         EventType = "ChildWorkflowStarted"
	EventChildWorkflowStartFailed     EventType = "ChildWorkflowStartFailed"
	EventChildWorkflowCompleted       EventType = "ChildWorkflowCompleted"
	EventChildWorkflowFailed          EventType = "ChildWorkflowFailed"
	EventChildWorkflowAttemptFailed   EventType = "ChildWorkflowAttemptFailed"
	EventChildWorkflowCancelRequested EventType = "ChildWorkflowCancelRequested"
	EventExternalSignalRequested      EventType = "ExternalSignalRequested"
	EventExternalSignalDelivered      EventType = "ExternalSignalDelivered"
	EventExternalSignalFailed         EventType = "ExternalSignalFailed"
	EventUpdateAccepted               EventType = "UpdateAccepted"
	EventUpdateCompleted              EventType = "UpdateCompleted"
	EventWorkflowPaused               EventType = "WorkflowPaused"
	EventWorkflowUnpaused             EventType = "WorkflowUnpaused"
	EventActivityOperation            EventType = "ActivityOperation"
)

// Event is one entry of a run's history. IDs start at 1 and have no gaps.
type Event struct {
	ID    int64     `json:"id"`
	Type  EventType `json:"type"`
	Time  time.Time `json:"time"`
	Attrs any       `json:"attrs"` // a pointer to the type's attributes struct
}

// UnmarshalJSON decodes attrs into the struct its type names.
func (e *Event) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID    int64           `json:"id"`
		Type  EventType       `json:"type"`
		Time  time.Time       `json:"time"`
		Attrs json.RawMessage `json:"attrs"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	attrs := newAttrs(raw.Type)
	if attrs == nil {
		return fmt.Errorf("event %d: unknown event type %q", raw.ID, raw.Type)
	}
	if len(raw.Attrs) > 0 && string(raw.Attrs) != "null" {
		if err := json.Unmarshal(raw.Attrs, attrs); err != nil {
			return fmt.Errorf("event %d (%s): %w", raw.ID, raw.Type, err)
		}
	}
	*e = Event{ID: raw.ID, Type: raw.Type, Time: raw.Time, Attrs: attrs}
	return nil
}

// Batch is the body of one history message.
type Batch struct {
	Kind BatchKind `json:"kind"`
	// TaskTime is the workflow time of a task batch: what engine.Now returns
	// while the code runs for it, live and on replay.
	TaskTime time.Time `json:"task_time,omitzero"`
	Events   []Event   `json:"events"`
}

// encodeBatch and DecodeBatch (batchdecode.go) are the only places that
// know the wire format.
func encodeBatch(b *Batch) ([]byte, error) { return json.Marshal(b) }

// readEvents reads and decodes a run's whole history.
func readEvents(ctx context.Context, s HistoryStore, runID string) ([]Event, error) {
	batches, err := s.ReadHistory(ctx, runID, 0)
	if err != nil {
		return nil, err
	}
	var events []Event
	v, err := verifierOf(ctx, s)
	if err != nil {
		return nil, err
	}
	for _, sb := range batches {
		b, err := DecodeBatch(sb.Data)
		if err != nil {
			return nil, fmt.Errorf("run %s batch %d: %w", runID, sb.Seq, err)
		}
		v.screen(runID, b)
		events = append(events, b.Events...)
	}
	return events, nil
}

// headerFor derives the store header of a batch.
func headerFor(b *Batch, runID, workflowID, queue string) BatchHeader {
	h := BatchHeader{RunID: runID, WorkflowID: workflowID, TaskQueue: queue, Kind: b.Kind}
	if n := len(b.Events); n > 0 {
		h.FirstEventID, h.LastEventID = b.Events[0].ID, b.Events[n-1].ID
	}
	for _, e := range b.Events {
		h.Derive = h.Derive || derivesFrom(e)
		h.Closed = h.Closed || e.Type.Closes()
	}
	h.Wake = b.Kind == BatchExternal && !h.Closed
	h.Settles = settledActivities(b)
	return h
}
