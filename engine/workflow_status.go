package engine

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"
)

// SetStatus sets the run's user-facing status line ("charging card").
func SetStatus(ctx Context, text string) {
	env := mustCtx(ctx).env
	text = truncate(text, 500)
	if env.status == text {
		return
	}
	env.status = text
	seq := env.nextSeq()
	env.addCommand(&command{typ: EventStatusSet, attrs: &StatusSet{Seq: seq, Text: text}, desc: fmt.Sprintf("sets the status (seq %d)", seq)})
}

// SetProgress sets the run's user-facing progress (done of total).
func SetProgress(ctx Context, done, total int64) {
	env := mustCtx(ctx).env
	if env.progress == [2]int64{done, total} {
		return
	}
	env.progress = [2]int64{done, total}
	seq := env.nextSeq()
	env.addCommand(&command{typ: EventProgressSet, attrs: &ProgressSet{Seq: seq, Done: done, Total: total}, desc: fmt.Sprintf("sets progress (seq %d)", seq)})
}

var attrNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// UpsertSearchAttributes sets typed custom search attributes that the index
// stores and the query language filters, sorts and groups on.
func UpsertSearchAttributes(ctx Context, attrs map[string]SearchAttribute) error {
	env := mustCtx(ctx).env
	for name, a := range attrs {
		if !attrNameRe.MatchString(name) {
			return fmt.Errorf("search attribute name %q: use letters, digits and _ (at most 64), starting with a letter or _", name)
		}
		if err := a.validate(); err != nil {
			return fmt.Errorf("search attribute %q: %w", name, err)
		}
	}
	cp := make(map[string]SearchAttribute, len(attrs))
	for k, v := range attrs {
		cp[k] = v
		env.attrs[k] = v
	}
	seq := env.nextSeq()
	env.addCommand(&command{typ: EventSearchAttributesUpserted, attrs: &SearchAttributesUpserted{Seq: seq, Attributes: cp},
		desc: fmt.Sprintf("upserts search attributes (seq %d)", seq)})
	return nil
}

func (a SearchAttribute) validate() error {
	ok := false
	switch a.Type {
	case AttrKeyword, AttrText:
		_, ok = a.Value.(string)
	case AttrInt:
		_, ok = a.Value.(int64)
	case AttrFloat:
		_, ok = a.Value.(float64)
	case AttrBool:
		_, ok = a.Value.(bool)
	case AttrTime:
		_, ok = a.Value.(time.Time)
	default:
		return fmt.Errorf("unknown type %q", a.Type)
	}
	if !ok {
		return fmt.Errorf("value %v (%T) is not a %s", a.Value, a.Value, a.Type)
	}
	return nil
}

// EncodedValue is a recorded value, decoded on demand.
type EncodedValue struct{ raw json.RawMessage }

// Get decodes the value into valuePtr.
func (v EncodedValue) Get(valuePtr any) error {
	if len(v.raw) == 0 {
		return nil
	}
	return json.Unmarshal(v.raw, valuePtr)
}

// SideEffect runs fn once and records its result; on replay the recorded
// value is returned and fn is not called. Use it for random numbers, ids,
// reading configuration.
func SideEffect(ctx Context, fn func() any) EncodedValue {
	env := mustCtx(ctx).env
	seq := env.nextSeq()
	var raw json.RawMessage
	if m, ok := env.replayMarker(seq, MarkerSideEffect, ""); env.replaying && ok {
		raw = m.Value
	} else if !env.replaying {
		b, err := json.Marshal(fn())
		if err != nil {
			panic(fmt.Sprintf("engine: SideEffect value cannot be encoded: %v", err))
		}
		raw = b
	}
	env.addCommand(&command{typ: EventMarkerRecorded,
		attrs: &MarkerRecorded{Seq: seq, Kind: MarkerSideEffect, Value: raw}, desc: fmt.Sprintf("records a side effect (seq %d)", seq)})
	return EncodedValue{raw: raw}
}

// NewUUID returns a random UUID that replays identically.
func NewUUID(ctx Context) string {
	var s string
	_ = SideEffect(ctx, func() any { return uuid.NewString() }).Get(&s)
	return s
}

// DefaultVersion is what GetVersion returns for code that ran before the
// change was introduced.
const DefaultVersion = -1

// GetVersion lets code change under running executions: runs that started
// before the change replay with DefaultVersion (or the version they
// recorded); new runs record and get maxSupported.
func GetVersion(ctx Context, changeID string, minSupported, maxSupported int) int {
	env := mustCtx(ctx).env
	if v, ok := env.versions[changeID]; ok {
		return checkVersion(changeID, v, minSupported, maxSupported)
	}
	v := maxSupported
	if env.replaying {
		m, ok := env.replayMarker(0, MarkerVersion, changeID)
		if !ok {
			env.versions[changeID] = DefaultVersion
			return checkVersion(changeID, DefaultVersion, minSupported, maxSupported)
		}
		_ = json.Unmarshal(m.Value, &v)
	}
	env.versions[changeID] = v
	seq := env.nextSeq()
	raw, _ := json.Marshal(v)
	env.addCommand(&command{typ: EventMarkerRecorded,
		attrs: &MarkerRecorded{Seq: seq, Kind: MarkerVersion, ID: changeID, Value: raw}, desc: fmt.Sprintf("records version %s (seq %d)", changeID, seq)})
	return checkVersion(changeID, v, minSupported, maxSupported)
}

func checkVersion(changeID string, v, lo, hi int) int {
	if v < lo || v > hi {
		panic(fmt.Sprintf("engine: version %d of change %q is outside the supported range [%d, %d]", v, changeID, lo, hi))
	}
	return v
}

// Marker is a value workflow code recorded with RecordMarker.
type Marker struct {
	Seq   int64           `json:"seq"`
	ID    string          `json:"id,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// RecordMarker records a value in the run's history under kind (and an
// optional id), for libraries built on the engine (the compensations
// package records its plan this way) and for operators reading history.
// It replays like any command: the same code records the same markers.
func RecordMarker(ctx Context, kind, id string, value any) error {
	env := mustCtx(ctx).env
	if kind == "" || kind == MarkerSideEffect || kind == MarkerVersion {
		return fmt.Errorf("engine: marker kind %q is empty or reserved", kind)
	}
	raw, err := encodePayload(value, "marker "+kind)
	if err != nil {
		return err
	}
	seq := env.nextSeq()
	env.markers[kind] = append(env.markers[kind], Marker{Seq: seq, ID: id, Value: raw})
	env.addCommand(&command{typ: EventMarkerRecorded,
		attrs: &MarkerRecorded{Seq: seq, Kind: kind, ID: id, Value: raw}, desc: fmt.Sprintf("records marker %s %s (seq %d)", kind, id, seq)})
	return nil
}

// RecordedMarkers returns the markers of kind this run has recorded so far,
// oldest first (replay-safe: the list is rebuilt as the code replays).
func RecordedMarkers(ctx Context, kind string) []Marker {
	return slices.Clone(mustCtx(ctx).env.markers[kind])
}
