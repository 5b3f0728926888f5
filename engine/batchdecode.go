package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// DecodeBatch decodes the body of one history message, exactly as
// json.Unmarshal into a Batch does; every reader of history (replay, the
// dispatcher, workers, the client, the search indexer) decodes with it.
//
// encoding/json scans a batch three times over (the batch, each event's
// raw fields in Event.UnmarshalJSON, each event's attributes), and twice
// per scan (once to validate, once to decode). DecodeBatch first tries one
// pass (jsondec.go) that reads each event's attributes into the type the
// registry names for it, and falls back to encoding/json for the batch when
// that pass is not sure to decode it identically (an unknown event type, a
// key in another case, a type key after the attributes, escapes it does not
// decode itself, invalid input). Tests compare both over every registered
// event type, and a fuzz test over arbitrary input. On a typical 2.2 KB
// task batch of 9 events (BenchmarkDecodeBatch) it takes 25 us and 54
// allocations, encoding/json 123 us and 181.
func DecodeBatch(data []byte) (*Batch, error) {
	if b, err := fastDecodeBatch(data); err == nil {
		return b, nil
	}
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("decoding history batch: %w", err)
	}
	return &b, nil
}

// The names batches repeat, interned by the decoder (eventTypeNames is
// filled as event types are registered).
var (
	batchKindNames = map[string]string{string(BatchTask): string(BatchTask), string(BatchExternal): string(BatchExternal), string(BatchImported): string(BatchImported)}
	eventTypeNames = map[string]string{}
)

// fastDecodeBatch decodes a batch in one pass, or fails with errFallback.
func fastDecodeBatch(data []byte) (*Batch, error) {
	d := &jsonDecoder{data: data}
	b := &Batch{}
	err := d.object(func(key []byte) error {
		switch string(key) {
		case "kind":
			return decodeName(d, batchKindNames, &b.Kind)
		case "task_time":
			return d.time(&b.TaskTime)
		case "events":
			if d.literal("null") {
				b.Events = nil
				return nil
			}
			b.Events = []Event{} // as encoding/json: [] decodes to empty, not nil
			return d.array(func() error {
				e, err := d.event()
				if err != nil {
					return err
				}
				b.Events = append(b.Events, e)
				return nil
			})
		}
		return errFallback // a key encoding/json would match in another case, or ignore
	})
	if err != nil {
		return nil, err
	}
	return b, d.end()
}

// event decodes one event. Its attributes are decoded once its type is
// known, so a type key after the attributes falls back.
func (d *jsonDecoder) event() (Event, error) {
	var e Event
	err := d.object(func(key []byte) error {
		switch string(key) {
		case "id":
			return d.value(reflect.ValueOf(&e.ID).Elem())
		case "type":
			if e.Attrs != nil {
				return errFallback // attributes decoded for another type
			}
			return decodeName(d, eventTypeNames, &e.Type)
		case "time":
			return d.time(&e.Time)
		case "attrs":
			if e.Attrs = newAttrs(e.Type); e.Attrs == nil {
				return errFallback
			}
			if d.literal("null") {
				return nil
			}
			return d.value(reflect.ValueOf(e.Attrs).Elem())
		}
		return errFallback
	})
	if err != nil {
		return Event{}, err
	}
	if e.Attrs == nil {
		if e.Attrs = newAttrs(e.Type); e.Attrs == nil {
			return Event{}, errFallback
		}
	}
	return e, nil
}

// decodeName decodes a name every batch or event repeats, interned from
// known; null leaves *dst as it is, as encoding/json does.
func decodeName[T ~string](d *jsonDecoder, known map[string]string, dst *T) error {
	if d.literal("null") {
		return nil
	}
	s, err := d.interned(known)
	*dst = T(s)
	return err
}

// decodeTask decodes a task (v: a pointer to its struct) in one pass, or
// with encoding/json when the fast path declines: tasks arrive as often as
// batches (three activity guards and a wake per ThreeActs run), and
// encoding/json's two scans and reflection were ~7 % of a worker's CPU.
func decodeTask(data []byte, v any) error {
	rv := reflect.ValueOf(v).Elem()
	d := &jsonDecoder{data: data}
	if err := d.value(rv); err == nil && d.end() == nil {
		return nil
	}
	rv.SetZero()
	return json.Unmarshal(data, v)
}
