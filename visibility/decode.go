package visibility

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Decoding history batches is a large part of indexing (every touched
// run's batches are decoded when its document is built). engine.Event's
// own decoder validates each event's JSON twice more after the batch was
// validated; this one reads the batch once into raw attributes and decodes
// each into its type. Event types it does not know (added to the engine
// later) make it fall back to the engine's decoder for the batch, and a
// test checks both decode real histories identically.

type rawEvent struct {
	ID    int64            `json:"id"`
	Type  engine.EventType `json:"type"`
	Time  time.Time        `json:"time"`
	Attrs json.RawMessage  `json:"attrs"`
}

type rawBatch struct {
	Events []rawEvent `json:"events"`
}

// decodeEvents returns the events of an encoded history batch: in one
// pass (jsondec.go) when it can, else as described above.
func decodeEvents(data []byte) ([]engine.Event, error) {
	if events, err := fastDecodeEvents(data); err == nil {
		return events, nil
	}
	return slowDecodeEvents(data)
}

// slowDecodeEvents decodes with encoding/json.
func slowDecodeEvents(data []byte) ([]engine.Event, error) {
	var rb rawBatch
	if err := json.Unmarshal(data, &rb); err != nil {
		return nil, fmt.Errorf("decoding history batch: %w", err)
	}
	events := make([]engine.Event, len(rb.Events))
	for i, re := range rb.Events {
		attrs := attrsFor(re.Type)
		if attrs == nil {
			return engineDecode(data)
		}
		if len(re.Attrs) > 0 && string(re.Attrs) != "null" {
			if err := json.Unmarshal(re.Attrs, attrs); err != nil {
				return nil, fmt.Errorf("event %d (%s): %w", re.ID, re.Type, err)
			}
		}
		events[i] = engine.Event{ID: re.ID, Type: re.Type, Time: re.Time, Attrs: attrs}
	}
	return events, nil
}

// fastDecodeEvents decodes a batch in one pass, or fails with errFallback.
// An event's attributes are decoded once its type is known, so a type key
// after the attributes also falls back.
func fastDecodeEvents(data []byte) ([]engine.Event, error) {
	d := &jsonDecoder{data: data}
	events := []engine.Event{} // as slowDecodeEvents: never nil
	err := d.object(func(key []byte) error {
		switch string(key) {
		case "events":
			events = events[:0]
			if d.literal("null") {
				return nil
			}
			return d.array(func() error {
				var e engine.Event
				err := d.object(func(key []byte) error {
					var err error
					switch string(key) {
					case "id":
						err = d.value(reflect.ValueOf(&e.ID).Elem())
					case "type":
						if e.Attrs != nil {
							return errFallback // attributes decoded for another type
						}
						err = d.value(reflect.ValueOf(&e.Type).Elem())
					case "time":
						err = d.value(reflect.ValueOf(&e.Time).Elem())
					case "attrs":
						if e.Attrs = attrsFor(e.Type); e.Attrs == nil {
							return errFallback
						}
						if !d.literal("null") {
							err = d.value(reflect.ValueOf(e.Attrs).Elem())
						}
					default:
						return errFallback
					}
					return err
				})
				if err != nil {
					return err
				}
				if e.Attrs == nil {
					if e.Attrs = attrsFor(e.Type); e.Attrs == nil {
						return errFallback
					}
				}
				events = append(events, e)
				return nil
			})
		case "kind", "task_time":
			return d.skip()
		}
		return errFallback
	})
	if err != nil {
		return nil, err
	}
	return events, d.end()
}

func engineDecode(data []byte) ([]engine.Event, error) {
	var b engine.Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("decoding history batch: %w", err)
	}
	return b.Events, nil
}

// attrsFor returns an empty attributes value for t, nil if unknown here.
func attrsFor(t engine.EventType) any {
	switch t {
	case engine.EventWorkflowStarted:
		return &engine.WorkflowStarted{}
	case engine.EventWorkflowTaskCompleted:
		return &engine.WorkflowTaskCompleted{}
	case engine.EventWorkflowTaskFailed:
		return &engine.WorkflowTaskFailed{}
	case engine.EventActivityScheduled:
		return &engine.ActivityScheduled{}
	case engine.EventActivityAttemptFailed:
		return &engine.ActivityAttemptFailed{}
	case engine.EventActivityCompleted:
		return &engine.ActivityCompleted{}
	case engine.EventActivityFailed:
		return &engine.ActivityFailed{}
	case engine.EventActivityCancelRequested:
		return &engine.ActivityCancelRequested{}
	case engine.EventTimerStarted:
		return &engine.TimerStarted{}
	case engine.EventTimerFired:
		return &engine.TimerFired{}
	case engine.EventTimerCanceled:
		return &engine.TimerCanceled{}
	case engine.EventSignalReceived:
		return &engine.SignalReceived{}
	case engine.EventMarkerRecorded:
		return &engine.MarkerRecorded{}
	case engine.EventApprovalRequested:
		return &engine.ApprovalRequested{}
	case engine.EventApprovalDecided:
		return &engine.ApprovalDecided{}
	case engine.EventApprovalTimedOut:
		return &engine.ApprovalTimedOut{}
	case engine.EventStatusSet:
		return &engine.StatusSet{}
	case engine.EventProgressSet:
		return &engine.ProgressSet{}
	case engine.EventSearchAttributesUpserted:
		return &engine.SearchAttributesUpserted{}
	case engine.EventWorkflowCancelRequested:
		return &engine.WorkflowCancelRequested{}
	case engine.EventWorkflowCompleted:
		return &engine.WorkflowCompleted{}
	case engine.EventWorkflowFailed:
		return &engine.WorkflowFailed{}
	case engine.EventWorkflowCanceled:
		return &engine.WorkflowCanceled{}
	case engine.EventWorkflowTerminated:
		return &engine.WorkflowTerminated{}
	case engine.EventWorkflowContinuedAsNew:
		return &engine.WorkflowContinuedAsNew{}
	case engine.EventWorkflowReset:
		return &engine.WorkflowReset{}
	case engine.EventResetApplied:
		return &engine.ResetApplied{}
	case engine.EventRunCompensated:
		return &engine.RunCompensated{}
	}
	return nil
}
