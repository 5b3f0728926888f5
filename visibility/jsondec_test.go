package visibility

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Every event type the indexer knows.
var testEventTypes = []engine.EventType{
	engine.EventWorkflowStarted, engine.EventWorkflowTaskCompleted, engine.EventWorkflowTaskFailed,
	engine.EventActivityScheduled, engine.EventActivityAttemptFailed, engine.EventActivityCompleted,
	engine.EventActivityFailed, engine.EventActivityCancelRequested, engine.EventTimerStarted,
	engine.EventTimerFired, engine.EventTimerCanceled, engine.EventSignalReceived, engine.EventMarkerRecorded,
	engine.EventApprovalRequested, engine.EventApprovalDecided, engine.EventApprovalTimedOut,
	engine.EventStatusSet, engine.EventProgressSet, engine.EventSearchAttributesUpserted,
	engine.EventWorkflowCancelRequested, engine.EventWorkflowCompleted, engine.EventWorkflowFailed,
	engine.EventWorkflowCanceled, engine.EventWorkflowTerminated, engine.EventWorkflowContinuedAsNew,
	engine.EventWorkflowReset, engine.EventResetApplied, engine.EventRunCompensated,
}

var testStrings = []string{"", "plain", "héllo wörld", "tab\tand\nnewline", `quote " and \ backslash`,
	"<b>&amp;</b>", "line\u2028sep", "emoji 😀", "\x00nul", "bad utf8 \xff\xfe"}

// fill sets every field reachable from v to a random value, so that a
// decoder that drops or misreads any field of any type shows.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	t := v.Type()
	switch t {
	case typeTime:
		v.Set(reflect.ValueOf(time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("", 3600*(r.IntN(5)-2)))))
		return
	case typeRaw:
		raw, _ := json.Marshal(map[string]any{"k": testStrings[r.IntN(len(testStrings))], "n": r.Float64(), "a": []int{1, 2}})
		v.SetBytes(raw)
		return
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(testStrings[r.IntN(len(testStrings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(r.Int64N(1<<40) - 1<<39)
	case reflect.Float64:
		v.SetFloat(r.NormFloat64() * 1e6)
	case reflect.Pointer:
		if r.IntN(4) > 0 {
			v.Set(reflect.New(t.Elem()))
			fill(r, v.Elem(), depth+1)
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				fill(r, v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			b := make([]byte, r.IntN(20))
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			v.SetBytes(b)
			return
		}
		n := r.IntN(3)
		if depth > 3 {
			n = 0
		}
		s := reflect.MakeSlice(t, n, n)
		for i := range n {
			fill(r, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(t)
		for range r.IntN(4) {
			k := reflect.New(t.Key()).Elem()
			k.SetString(testStrings[r.IntN(len(testStrings))])
			e := reflect.New(t.Elem()).Elem()
			fill(r, e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Interface:
		vals := []any{"text", 12.5, true, nil, map[string]any{"x": []any{1.0, "y", false, nil}}, []any{}}
		if x := vals[r.IntN(len(vals))]; x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		panic("fill: unhandled kind " + t.Kind().String())
	}
}

// The one-pass decoder reads every field of every event type as the
// engine's decoder does, and does not give up on what the engine writes.
func TestFastDecodeEveryEventType(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 200 {
		var events []engine.Event
		for i, typ := range testEventTypes {
			attrs := attrsFor(typ)
			if round%10 > 0 {
				fill(r, reflect.ValueOf(attrs).Elem(), 0)
			}
			events = append(events, engine.Event{ID: int64(i + 1), Type: typ, Time: time.Unix(1.8e9, int64(round)).UTC(), Attrs: attrs})
		}
		data, err := json.Marshal(engine.Batch{Kind: engine.BatchTask, TaskTime: time.Unix(1.8e9, 5).UTC(), Events: events})
		if err != nil {
			t.Fatal(err)
		}
		got, err := fastDecodeEvents(data)
		if err != nil {
			t.Fatalf("round %d: the fast path gave up on a batch the engine wrote: %v\n%s", round, err, data)
		}
		want, err := engineDecode(data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("round %d: %s decoded as\n%#v\nthe engine reads\n%#v\nfrom %s", round, want[i].Type, got[i].Attrs, want[i].Attrs, data)
			}
		}
	}
}

// Whatever the input, the fast path either gives up or agrees with
// encoding/json.
func FuzzFastDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, typ := range testEventTypes {
		attrs := attrsFor(typ)
		fill(r, reflect.ValueOf(attrs).Elem(), 0)
		data, _ := json.Marshal(engine.Batch{Kind: engine.BatchExternal, Events: []engine.Event{{ID: 1, Type: typ, Time: time.Unix(1.8e9, 0), Attrs: attrs}}})
		f.Add(data)
	}
	for _, s := range []string{`{"events":[]}`, `{"events":null}`, `{"Events":[{"id":1,"type":"TimerFired","attrs":{"seq":2}}]}`,
		`{"events":[{"id":1,"attrs":{"seq":2},"type":"TimerFired"}]}`, `{"events":[{"id":1,"type":"TimerFired","attrs":{"seq":2.5}}]}`,
		`{"events":[{"id":1,"type":"TimerFired","attrs":{"seq":2}}]} x`, `{"events":[{"id":01,"type":"TimerFired"}]}`,
		`{"events":[{"id":1,"type":"StatusSet","attrs":{"text":"a\u00e9\ud83d\ude00\x"}}]}`,
		`{"events":[{"id":1,"type":"SignalReceived","attrs":{"name":"n","payload":{"a":[1,2e5,-0.5,true,null]}}}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := fastDecodeEvents(data)
		if err != nil {
			return
		}
		want, err := slowDecodeEvents(data)
		if err != nil {
			t.Fatalf("the fast path decoded what encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded differently:\nfast %#v\nslow %#v\nfrom %q", got, want, data)
		}
	})
}
