package engine

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

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
	case reflect.Uint64:
		v.SetUint(r.Uint64())
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

// decodeStd is the reference: encoding/json into a Batch.
func decodeStd(data []byte) (*Batch, error) {
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// randomBatch encodes one event of every registered type, each with every
// field set at random (on most rounds) or zero.
func randomBatch(t testing.TB, r *rand.Rand, round int) []byte {
	var events []Event
	for i, typ := range EventTypes() {
		attrs := newAttrs(typ)
		if round%10 > 0 {
			fill(r, reflect.ValueOf(attrs).Elem(), 0)
		}
		events = append(events, Event{ID: int64(i + 1), Type: typ, Time: time.Unix(1.8e9, int64(round)).UTC(), Attrs: attrs})
	}
	data, err := json.Marshal(Batch{Kind: BatchTask, TaskTime: time.Unix(1.8e9, 5).UTC(), Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The one-pass decoder reads every field of every registered event type as
// encoding/json does, and does not give up on what the engine writes: an
// event type the one pass cannot read would silently take the slow path.
func TestFastDecodeEveryEventType(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 200 {
		data := randomBatch(t, r, round)
		got, err := fastDecodeBatch(data)
		if err != nil {
			t.Fatalf("round %d: the fast path gave up on a batch the engine wrote: %v\n%s", round, err, data)
		}
		want, err := decodeStd(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != want.Kind || !got.TaskTime.Equal(want.TaskTime) || len(got.Events) != len(want.Events) {
			t.Fatalf("round %d: batch decoded as %s %v (%d events), encoding/json reads %s %v (%d events)",
				round, got.Kind, got.TaskTime, len(got.Events), want.Kind, want.TaskTime, len(want.Events))
		}
		for i := range want.Events {
			if !reflect.DeepEqual(got.Events[i], want.Events[i]) {
				t.Fatalf("round %d: %s decoded as\n%#v\nencoding/json reads\n%#v\nfrom %s", round, want.Events[i].Type, got.Events[i].Attrs, want.Events[i].Attrs, data)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: batch decoded as\n%#v\nencoding/json reads\n%#v", round, got, want)
		}
	}
}

// Hostile and odd input: DecodeBatch gives what encoding/json gives, value
// or error, whichever path it takes.
func TestDecodeBatchMatchesEncodingJSON(t *testing.T) {
	for _, s := range hostileBatches {
		checkDecodeBatch(t, []byte(s))
	}
}

var hostileBatches = []string{
	``, `null`, `[]`, `{}`, `{"events":[]}`, `{"events":null}`, `{"events":[null]}`, `{"events":[1]}`, `{"events":{}}`,
	`{"kind":"task","task_time":"2026-11-03T11:18:01.2Z","events":[]}`, `{"kind":null,"task_time":null}`,
	`{"kind":7}`, `{"task_time":"yesterday"}`, `{"Kind":"task"}`, `{"extra":1,"events":[]}`,
	`{"Events":[{"id":1,"type":"TimerFired","attrs":{"seq":2}}]}`,
	`{"events":[{"id":1,"attrs":{"seq":2},"type":"TimerFired"}]}`,
	`{"events":[{"id":1,"type":"TimerFired","attrs":{"seq":2.5}}]}`,
	`{"events":[{"id":1,"type":"TimerFired","attrs":{"seq":2}}]} x`,
	`{"events":[{"id":01,"type":"TimerFired"}]}`,
	`{"events":[{"id":1,"type":"NoSuchEvent","attrs":{}}]}`,
	`{"events":[{"id":1,"type":"","attrs":null}]}`,
	`{"events":[{"id":1,"type":"TimerFired","attrs":null}]}`,
	`{"events":[{"id":1,"type":"TimerFired"}],"events":[]}`,
	`{"events":[{"id":1,"type":"TimerFired","type":"TimerStarted","attrs":{"seq":1}}]}`,
	`{"events":[{"id":1,"type":"TimerFired","attrs":{"seq":1},"type":"TimerStarted"}]}`,
	`{"events":[{"id":1,"type":"TimerFired","attrs":{"seq":1,"extra":true}}]}`,
	`{"events":[{"id":1,"type":"Timer\u0046ired","attrs":{"seq":1}}]}`,
	`{"events":[{"id":1e2,"type":"TimerFired"}]}`, `{"events":[{"id":-0,"type":"TimerFired"}]}`,
	`{"events":[{"id":99999999999999999999,"type":"TimerFired"}]}`,
	`{"events":[{"id":1,"type":"TimerFired","time":"2026-13-45T00:00:00Z"}]}`,
	`{"events":[{"id":1,"type":"TimerFired","time":"2026-11-03T11:18:01.2+01:00"}]}`,
	`{"events":[{"id":1,"type":"StatusSet","attrs":{"text":"a\u00e9\ud83d\ude00\x"}}]}`,
	`{"events":[{"id":1,"type":"StatusSet","attrs":{"text":"\ud800 lone surrogate"}}]}`,
	"{\"events\":[{\"id\":1,\"type\":\"StatusSet\",\"attrs\":{\"text\":\"bad \xff utf8\"}}]}",
	`{"events":[{"id":1,"type":"SignalReceived","attrs":{"name":"n","payload":{"a":[1,2e5,-0.5,true,null]}}}]}`,
	`{"events":[{"id":1,"type":"SignalReceived","attrs":{"name":"n","payload":}}]}`,
	`{"events":[{"id":1,"type":"SearchAttributesUpserted","attrs":{"seq":1,"attributes":{"a":{"type":"int","value":1e400}}}}]}`,
	`{"events":[{"id":1,"type":"SearchAttributesUpserted","attrs":{"seq":1,"attributes":null}}]}`,
	`{"events":[{"id":1,"type":"ApprovalRequested","attrs":{"seq":1,"approvers":["a",null,"b"]}}]}`,
	`{"events":[{"id":1,"type":"ActivityFailed","attrs":{"seq":1,"failure":null}}]}`,
	`{"events":[{"id":1,"type":"TimerStarted","attrs":{"seq":1,"duration":"1s"}}]}`,
	`{"events":[{"id":1,"type":"WorkflowStarted","attrs":{"input":[1,2,{"x":"y"}]` + "\t\n" + `}}]}`,
	`  {"events" : [ { "id" : 1 , "type" : "TimerFired" } ] }  `,
}

// checkDecodeBatch fails unless DecodeBatch and encoding/json agree on data.
func checkDecodeBatch(t *testing.T, data []byte) {
	t.Helper()
	want, werr := decodeStd(data)
	got, gerr := DecodeBatch(data)
	switch {
	case (werr == nil) != (gerr == nil):
		t.Fatalf("DecodeBatch error %v, encoding/json error %v, on %q", gerr, werr, data)
	case werr != nil:
		if !strings.Contains(gerr.Error(), werr.Error()) {
			t.Fatalf("DecodeBatch error %q does not carry encoding/json's %q, on %q", gerr, werr, data)
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("decoded differently:\nDecodeBatch  %#v\nencoding/json %#v\nfrom %q", got, want, data)
	}
	if fast, err := fastDecodeBatch(data); err == nil && (werr != nil || !reflect.DeepEqual(fast, want)) {
		t.Fatalf("the fast path decoded %q as %#v, encoding/json as %#v (%v)", data, fast, want, werr)
	}
}

// Whatever the input, DecodeBatch agrees with encoding/json, and its fast
// path either gives up or agrees too.
func FuzzDecodeBatch(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, typ := range EventTypes() {
		attrs := newAttrs(typ)
		fill(r, reflect.ValueOf(attrs).Elem(), 0)
		data, _ := json.Marshal(Batch{Kind: BatchExternal, Events: []Event{{ID: 1, Type: typ, Time: time.Unix(1.8e9, 0), Attrs: attrs}}})
		f.Add(data)
	}
	for _, s := range hostileBatches {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecodeBatch)
}

// benchBatch is a typical workflow task's batch: an order's start, two
// activities, status, progress, search attributes, a timer.
func benchBatch(b *testing.B) []byte {
	t0 := time.Date(2026, 11, 3, 9, 30, 0, 123456789, time.UTC)
	t1 := t0.Add(time.Second)
	in := json.RawMessage(`{"order_id":"ord-0012345","customer":"Jürgen Müller","items":[{"sku":"A-1","qty":2,"price":19.99},{"sku":"B-7","qty":1,"price":250}],"note":"leave at the door"}`)
	opts := ActivityOptions{TaskQueue: "payments", StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 5 * time.Minute}
	evs := []Event{
		{ID: 1, Type: EventWorkflowStarted, Time: t0, Attrs: &WorkflowStarted{WorkflowID: "order-0012345", RunID: "0195a1c2-7d3e-7a4b-9c1d-2e3f4a5b6c7d", WorkflowType: "OrderWorkflow", TaskQueue: "orders", Input: in, Identity: "api@host-a"}},
		{ID: 2, Type: EventActivityScheduled, Time: t0, Attrs: &ActivityScheduled{Seq: 1, ActivityType: "ChargeCard", TaskQueue: "payments", Input: in, Options: opts}},
		{ID: 3, Type: EventActivityCompleted, Time: t1, Attrs: &ActivityCompleted{Seq: 1, Attempt: 1, Result: json.RawMessage(`{"charge_id":"ch_3NkQ","amount":289.98,"currency":"EUR"}`)}},
		{ID: 4, Type: EventStatusSet, Time: t1, Attrs: &StatusSet{Seq: 2, Text: "charged, shipping"}},
		{ID: 5, Type: EventProgressSet, Time: t1, Attrs: &ProgressSet{Seq: 3, Done: 2, Total: 5}},
		{ID: 6, Type: EventSearchAttributesUpserted, Time: t1, Attrs: &SearchAttributesUpserted{Seq: 4, Attributes: map[string]SearchAttribute{
			"Region": {Type: "keyword", Value: "eu-west"}, "Amount": {Type: "float", Value: 289.98}}}},
		{ID: 7, Type: EventActivityScheduled, Time: t1, Attrs: &ActivityScheduled{Seq: 5, ActivityType: "ShipOrder", TaskQueue: "shipping", Input: in, Options: opts}},
		{ID: 8, Type: EventTimerStarted, Time: t1, Attrs: &TimerStarted{Seq: 6, Duration: time.Hour, FireAt: t0.Add(time.Hour)}},
		{ID: 9, Type: EventWorkflowTaskCompleted, Time: t1, Attrs: &WorkflowTaskCompleted{Identity: "worker-1@host-b"}},
	}
	data, err := json.Marshal(Batch{Kind: BatchTask, TaskTime: t1, Events: evs})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fastDecodeBatch(data); err != nil {
		b.Fatalf("the fast path gives up on the benchmark's batch: %v", err)
	}
	return data
}

// DecodeBatch against the encoding/json decoding every engine reader used
// before it.
func BenchmarkDecodeBatch(b *testing.B) {
	data := benchBatch(b)
	for _, c := range []struct {
		name   string
		decode func([]byte) (*Batch, error)
	}{{"DecodeBatch", DecodeBatch}, {"encoding-json", decodeStd}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Tasks decode in one pass as encoding/json decodes them, every field of
// every task type, without giving up on what the engine writes; what the
// one pass declines (a key it does not know) still decodes as before.
func TestDecodeTaskMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for round := range 300 {
		for _, typ := range []reflect.Type{reflect.TypeFor[activityTask](), reflect.TypeFor[workflowTask]()} {
			v := reflect.New(typ)
			if round%10 > 0 {
				fill(r, v.Elem(), 0)
			}
			data, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatal(err)
			}
			fast := reflect.New(typ)
			if err := (&jsonDecoder{data: data}).value(fast.Elem()); err != nil {
				t.Fatalf("round %d: the one pass gave up on a %s the engine wrote: %v\n%s", round, typ, err, data)
			}
			got, want := reflect.New(typ), reflect.New(typ)
			if err := decodeTask(data, got.Interface()); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, want.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Interface(), want.Interface()) || !reflect.DeepEqual(fast.Interface(), want.Interface()) {
				t.Fatalf("round %d: %s decoded as\n%#v\nencoding/json reads\n%#v\nfrom %s", round, typ, got.Interface(), want.Interface(), data)
			}
		}
	}
	var got, want activityTask
	odd := []byte(`{"run_id":"r","Seq":7,"unknown":{"x":[1]},"attempt":2}`)
	if err := decodeTask(odd, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(odd, &want)
	if !reflect.DeepEqual(got, want) || got.Seq != 7 {
		t.Fatalf("a task the one pass declines decoded as %#v, encoding/json reads %#v", got, want)
	}
	if err := decodeTask([]byte(`{"run_id":`), &got); err == nil {
		t.Fatal("a truncated task decoded")
	}
}
