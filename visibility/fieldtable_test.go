package visibility

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/document"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/fields"
	"github.com/foremanhq/foreman/visibility/query"
)

// sampleRuns are histories that between them set every built-in field and
// a custom attribute of every type: a running run waiting on a retried
// activity with an approval, progress, status and signals; a failed one;
// a completed one; a terminated one reset from another.
func sampleRuns() [][]engine.Event {
	at := time.Date(2026, 11, 3, 10, 0, 0, 123456789, time.UTC)
	ev := func(id int64, d time.Duration, typ engine.EventType, attrs any) engine.Event {
		return engine.Event{ID: id, Type: typ, Time: at.Add(d), Attrs: attrs}
	}
	fail := &engine.Failure{Type: "CardDeclined", Message: "card declined: insufficient funds"}
	running := []engine.Event{
		ev(1, 0, engine.EventWorkflowStarted, &engine.WorkflowStarted{WorkflowID: "order-1", RunID: "run-1", WorkflowType: "Order", TaskQueue: "orders",
			Input: json.RawMessage(`{"customer":"Ada","amount":42.5,"items":["book","lamp"]}`), Identity: "cli@ops", ContinuedFrom: "run-0"}),
		ev(2, time.Second, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{Identity: "worker-1"}),
		ev(3, time.Second, engine.EventSearchAttributesUpserted, &engine.SearchAttributesUpserted{Seq: 1, Attributes: map[string]engine.SearchAttribute{
			"CustomerId": engine.Keyword("c-17"), "Notes": engine.Text("gift wrap, deliver after six"), "Items": engine.Int(2),
			"Amount": engine.Float(42.5), "Vip": engine.Bool(true), "DueAt": {Type: engine.AttrTime, Value: at.Add(72 * time.Hour).Format(time.RFC3339Nano)}}}),
		ev(4, time.Second, engine.EventActivityScheduled, &engine.ActivityScheduled{Seq: 2, ActivityType: "Reserve", TaskQueue: "orders"}),
		ev(5, 2*time.Second, engine.EventActivityCompleted, &engine.ActivityCompleted{Seq: 2, Attempt: 1}),
		ev(6, 3*time.Second, engine.EventActivityScheduled, &engine.ActivityScheduled{Seq: 3, ActivityType: "Charge", TaskQueue: "orders"}),
		ev(7, 4*time.Second, engine.EventActivityAttemptFailed, &engine.ActivityAttemptFailed{Seq: 3, Attempt: 2, Failure: fail, NextAttempt: at.Add(time.Minute)}),
		ev(8, 5*time.Second, engine.EventSignalReceived, &engine.SignalReceived{Name: "address", Payload: json.RawMessage(`{"city":"Lyon"}`), Identity: "web"}),
		ev(9, 6*time.Second, engine.EventApprovalRequested, &engine.ApprovalRequested{Seq: 4, Name: "refund", Description: "refund over 40 EUR"}),
		ev(10, 6*time.Second, engine.EventStatusSet, &engine.StatusSet{Seq: 5, Text: "charging card, attempt 2"}),
		ev(11, 6*time.Second, engine.EventProgressSet, &engine.ProgressSet{Seq: 6, Done: 2, Total: 3}),
		ev(12, 6*time.Second, engine.EventTimerStarted, &engine.TimerStarted{Seq: 7, Duration: time.Hour, FireAt: at.Add(time.Hour)}),
	}
	failed := []engine.Event{
		ev(1, 0, engine.EventWorkflowStarted, &engine.WorkflowStarted{WorkflowID: "order-2", RunID: "run-2", WorkflowType: "Order", TaskQueue: "orders", Input: json.RawMessage(`"plain"`)}),
		ev(2, time.Second, engine.EventWorkflowTaskFailed, &engine.WorkflowTaskFailed{Code: "FM_NONDETERMINISM", Message: "replay differs", Attempt: 1}),
		ev(3, 2*time.Second, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
		ev(4, 2*time.Second, engine.EventActivityScheduled, &engine.ActivityScheduled{Seq: 1, ActivityType: "Charge", TaskQueue: "orders"}),
		ev(5, 3*time.Second, engine.EventActivityFailed, &engine.ActivityFailed{Seq: 1, Attempt: 3, Failure: fail}),
		ev(6, 4*time.Second, engine.EventWorkflowFailed, &engine.WorkflowFailed{Seq: 2, Failure: fail}),
	}
	completed := []engine.Event{
		ev(1, 0, engine.EventWorkflowStarted, &engine.WorkflowStarted{WorkflowID: "quick-1", RunID: "run-3", WorkflowType: "Quick", TaskQueue: "q",
			ScheduledBy: "nightly", ScheduledStartTime: at.Add(-time.Second)}),
		ev(2, 90*time.Millisecond, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
		ev(3, 90*time.Millisecond, engine.EventWorkflowCompleted, &engine.WorkflowCompleted{Seq: 1, Result: json.RawMessage(`{"ok":true,"n":7}`)}),
	}
	terminated := []engine.Event{
		ev(1, 0, engine.EventWorkflowStarted, &engine.WorkflowStarted{WorkflowID: "order-4", RunID: "run-4", WorkflowType: "Order", TaskQueue: "orders", ResetFrom: "run-9"}),
		ev(2, time.Second, engine.EventWorkflowCancelRequested, &engine.WorkflowCancelRequested{Reason: "customer asked", Identity: "ops@acme"}),
		ev(3, 2*time.Second, engine.EventWorkflowTerminated, &engine.WorkflowTerminated{Reason: "stuck for a week", Identity: "ops@acme"}),
	}
	imported := append(append([]engine.Event(nil), completed...),
		ev(4, time.Hour, engine.EventRunImported, &engine.RunImported{Format: engine.ExportFormat, Source: "prod", Identity: "ops@acme"}))
	child := []engine.Event{
		ev(1, 0, engine.EventWorkflowStarted, &engine.WorkflowStarted{WorkflowID: "order-1/ship", RunID: "run-5", WorkflowType: "Shipment", TaskQueue: "orders",
			Parent: &engine.ParentRef{WorkflowID: "order-1", RunID: "run-1", Seq: 8, Key: "run-5", RootWorkflowID: "order-1", RootRunID: "run-1"}}),
	}
	updated := []engine.Event{ // one update completed, one still running
		ev(1, 0, engine.EventWorkflowStarted, &engine.WorkflowStarted{WorkflowID: "exp-5", RunID: "run-6", WorkflowType: "Expense", TaskQueue: "approvals"}),
		ev(2, time.Second, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
		ev(3, 2*time.Second, engine.EventUpdateAccepted, &engine.UpdateAccepted{UpdateID: "u-1", Name: "amend", Input: json.RawMessage(`{"amount":1200}`), Identity: "bob"}),
		ev(4, 2*time.Second, engine.EventUpdateCompleted, &engine.UpdateCompleted{Seq: 1, UpdateID: "u-1", Name: "amend", Result: json.RawMessage(`1200`)}),
		ev(5, 2*time.Second, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
		ev(6, 3*time.Second, engine.EventUpdateAccepted, &engine.UpdateAccepted{UpdateID: "u-2", Name: "recheck"}),
		ev(7, 3*time.Second, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
	}
	return [][]engine.Event{running, failed, completed, terminated, imported, child, updated}
}

// newTestBuilder returns a document builder over the index mapping and a
// registry holding the sample runs' custom attributes.
func newTestBuilder(t testing.TB) (*docBuilder, *attrRegistry) {
	t.Helper()
	m, err := buildMapping()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newDocBuilder(m)
	if err != nil {
		t.Fatal(err)
	}
	reg := newAttrRegistry()
	for name, typ := range map[string]engine.SearchAttributeType{"CustomerId": engine.AttrKeyword, "Notes": engine.AttrText,
		"Items": engine.AttrInt, "Amount": engine.AttrFloat, "Vip": engine.AttrBool, "DueAt": engine.AttrTime} {
		reg.register(name, typ)
	}
	return b, reg
}

// docDigest hashes everything of a document the index writes: each field's
// name, options, positions, value and analyzed tokens, in order.
func docDigest(d *document.Document) string {
	h := sha256.New()
	put := func(s string) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, f := range d.Fields {
		f.Analyze()
		put(f.Name())
		put(fmt.Sprint(uint64(f.Options()), f.ArrayPositions(), f.AnalyzedLength()))
		put(string(f.Value()))
		var terms []string
		for term, tf := range f.AnalyzedTokenFrequencies() {
			locs := make([]string, len(tf.Locations))
			for i, l := range tf.Locations {
				locs[i] = fmt.Sprint(*l)
			}
			terms = append(terms, fmt.Sprintf("%q:%v", term, locs))
		}
		sort.Strings(terms)
		put(fmt.Sprint(terms))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// The index bytes are the same as before the field table: the mapping and
// every document built from the sample runs hash as they did (digests
// taken from the code of 9bcd6d3). A change here must bump mappingVersion
// (an index written under the old documents is rebuilt on open) and then
// update the digests.
func TestDocumentBytesUnchanged(t *testing.T) {
	m, err := buildMapping()
	if err != nil {
		t.Fatal(err)
	}
	mj, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(mj)
	got := []string{mappingVersion, hex.EncodeToString(sum[:])[:16]}
	b, reg := newTestBuilder(t)
	for _, events := range sampleRuns() {
		d, err := b.build(deriveFacts(events), reg, nil, func(name string, _, _ engine.SearchAttributeType) {
			t.Errorf("attribute %s skipped", name)
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, docDigest(d))
	}
	want := []string{"foreman-vis-13", "52756cc7f22532e5", "28a874f87d02ef1d", "ced9b88f230865bc", "ce214d304da958db", "16920c6af0e1c73d", "afc7f6e19c327bd7", "622a78bfabaf17e9", "a5d1600d9f6d4369"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the mapping or the documents changed: bump mappingVersion (indexes rebuild), then set the digests\n got %q\nwant %q", got, want)
	}
}

// Every entry of the field table reaches each place it drives: the
// mapping maps it, the query schema resolves its name and aliases to its
// kind, and a sample run's document carries it (a new field needs a
// sample run that sets it, in sampleRuns).
func TestFieldTableDrivesIndex(t *testing.T) {
	m, err := buildMapping()
	if err != nil {
		t.Fatal(err)
	}
	b, reg := newTestBuilder(t)
	indexed := map[string]bool{}
	for _, events := range sampleRuns() {
		d, err := b.build(deriveFacts(events), reg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range d.Fields {
			indexed[f.Name()] = true
		}
	}
	for _, s := range fields.Builtin {
		if fm := m.FieldMappingForPath(s.Name); fm.Type == "" || !fm.Index {
			t.Errorf("%s: the mapping has %+v", s.Name, fm)
		}
		for _, name := range append([]string{s.Name}, s.Aliases...) {
			if f, ok := query.Builtin().Lookup(name); !ok || f != (query.Field{Path: s.Name, Kind: s.Kind}) {
				t.Errorf("%s: the query schema resolves %q to %v, %v", s.Name, name, f, ok)
			}
		}
		if !indexed[s.Name] && !indexed[exactField(s.Name)] {
			t.Errorf("%s: no sample run's document has it", s.Name)
		}
	}
}

// The stored summary's fields that the table marks InDoc hold the values
// the index holds, so what a list shows is what a query matched.
func TestDocMatchesFieldTable(t *testing.T) {
	docNames := map[string]bool{}
	dt := reflect.TypeFor[Doc]()
	for i := range dt.NumField() {
		name, _, _ := strings.Cut(dt.Field(i).Tag.Get("json"), ",")
		docNames[name] = true
	}
	for _, events := range sampleRuns() {
		f := deriveFacts(events)
		raw, err := json.Marshal(summary(f))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for _, s := range fields.Builtin {
			if !s.InDoc {
				continue
			}
			if !docNames[s.Name] {
				t.Errorf("%s: InDoc, but Doc has no such field", s.Name)
			}
			var want any
			switch {
			case s.Keyword != nil:
				want = s.Keyword(f)
			case s.Number != nil:
				v, ok := s.Number(f)
				if ok && v != 0 {
					want = v
				}
			case s.Time != nil:
				if v := s.Time(f); !v.IsZero() {
					want = v.Format(time.RFC3339Nano)
				}
			case s.Text != nil:
				want = s.Text(f)
			case s.Bool != nil:
				if v, ok := s.Bool(f); ok {
					want = v
				}
			default:
				t.Errorf("%s: a %v field in Doc", s.Name, s.Kind)
			}
			got, ok := doc[s.Name]
			if !ok || got == "" || got == 0.0 {
				got = nil
			}
			if want == "" {
				want = nil
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("run %s: Doc.%s is %v, the index holds %v", f.X.RunID, s.Name, got, want)
			}
		}
	}
}

// BenchmarkDocBuild is the indexer's per-run cost outside bleve: deriving a
// run's facts from its events and building its document.
func BenchmarkDocBuild(b *testing.B) {
	builder, reg := newTestBuilder(b)
	runs := sampleRuns()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := builder.build(deriveFacts(runs[i%len(runs)]), reg, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
