package engine

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine/internal/clock"
)

// declaredEventTypes reads the EventType constants from event.go's source,
// so that a constant added without a registry entry shows.
func declaredEventTypes(t *testing.T) []EventType {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "event.go", nil, 0)
	if err != nil {
		t.Fatalf("parsing event.go: %v", err)
	}
	var out []EventType
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "EventType" {
				continue
			}
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					out = append(out, EventType(strings.Trim(lit.Value, "`\"")))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// Every event type is declared once with every entry: its attributes, who
// records it and whether it closes the run, its replay key if a command,
// what the dispatcher derives, how Summarize folds it, its console line;
// and every part of the engine that reads history handles it.
func TestEventRegistryComplete(t *testing.T) {
	declared := declaredEventTypes(t)
	if len(declared) < 28 {
		t.Fatalf("read only %d EventType constants from event.go", len(declared))
	}
	registered := EventTypes()
	for _, typ := range declared {
		if !slices.Contains(registered, typ) {
			t.Errorf("event type %s is declared in event.go but has no registry entry (event_table_*.go)", typ)
		}
	}
	for _, typ := range registered {
		if !slices.Contains(declared, typ) {
			t.Errorf("the registry has an entry for %s, which event.go does not declare", typ)
		}
	}
	for _, typ := range declared {
		t.Run(string(typ), func(t *testing.T) {
			spec := eventSpecs[typ]
			if m := spec.missing(); len(m) > 0 {
				t.Fatalf("the registry entry lacks: %s", strings.Join(m, "; "))
			}
			attrs := newAttrs(typ)
			if rt := reflect.TypeOf(attrs); rt.Kind() != reflect.Pointer || rt.Elem().Name() != string(typ) {
				t.Fatalf("attributes are %v, want *%s", rt, typ)
			}
			e := Event{ID: 7, Type: typ, Time: time.Unix(1.8e9, 0).UTC(), Attrs: attrs}

			// Commands are matched by their seq on replay; the replay key reads it.
			if seq := reflect.ValueOf(attrs).Elem().FieldByName("Seq"); typ.IsCommand() {
				if !seq.IsValid() {
					t.Fatal("a command's attributes need a Seq")
				}
				seq.SetInt(42)
				if k := replayKeyOf(typ, attrs); k.seq != 42 {
					t.Fatalf("the replay key's seq is %d, the attributes' Seq 42", k.seq)
				}
				seq.SetInt(0)
			}

			// The executor applies facts outside a workflow task and refuses commands there.
			err := newWorkflowEnv(newRegistry(), clock.Wall).apply(e)
			var te *taskError
			refused := errors.As(err, &te) && te.code == CodeBadHistory
			if refused != typ.IsCommand() {
				t.Fatalf("the executor's apply returned %v for a %s (command %v)", err, typ, typ.IsCommand())
			}

			// The one-pass decoder reads it without falling back.
			data, err := encodeBatch(&Batch{Kind: BatchExternal, Events: []Event{e}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fastDecodeBatch(data); err != nil {
				t.Fatalf("the fast decoder falls back on %s", data)
			}

			// Summarize and the console's line take it, zero attributes included.
			Summarize([]Event{e})
			NewEventNarrator(LineFormat{}).Describe(e)

			// The header's Derive flag and the dispatcher agree: deriving an
			// event of a type that derives nothing stores nothing.
			if !spec.derivesFrom(attrs) {
				if err := spec.deriveFrom(context.Background(), nil, BatchHeader{}, e); err != nil {
					t.Fatalf("deriving from an event that derives nothing: %v", err)
				}
			}
		})
	}
}

// What the registry says about each type, as the engine has always had it:
// a changed entry shows here (the lists are written out, not read from the
// registry).
func TestEventRegistryFacts(t *testing.T) {
	commands := []EventType{EventActivityScheduled, EventActivityCancelRequested, EventTimerStarted,
		EventTimerCanceled, EventMarkerRecorded, EventApprovalRequested, EventStatusSet,
		EventProgressSet, EventSearchAttributesUpserted, EventWorkflowCompleted,
		EventWorkflowFailed, EventWorkflowCanceled, EventWorkflowContinuedAsNew, EventUpdateCompleted}
	closing := []EventType{EventWorkflowCompleted, EventWorkflowFailed, EventWorkflowCanceled, EventWorkflowTerminated,
		EventWorkflowContinuedAsNew, EventWorkflowReset}
	derived := []EventType{EventActivityScheduled, EventActivityAttemptFailed, EventTimerStarted,
		EventActivityCancelRequested, EventWorkflowContinuedAsNew, EventWorkflowReset, EventResetApplied}
	afterClose := []EventType{EventActivityCancelRequested, EventWorkflowContinuedAsNew, EventWorkflowReset}
	failures := []EventType{EventWorkflowTaskFailed, EventActivityAttemptFailed, EventActivityFailed,
		EventApprovalTimedOut, EventWorkflowFailed, EventWorkflowTerminated, EventOperatorEventRejected}
	pending := map[EventType]pendingEffect{
		EventActivityScheduled: pendingOpens, EventTimerStarted: pendingOpens, EventApprovalRequested: pendingOpens,
		EventActivityAttemptFailed: pendingUpdates,
		EventActivityCompleted:     pendingCloses, EventActivityFailed: pendingCloses, EventActivityCancelRequested: pendingCloses,
		EventTimerFired: pendingCloses, EventTimerCanceled: pendingCloses, EventApprovalDecided: pendingCloses, EventApprovalTimedOut: pendingCloses,
	}
	// child workflows and external signals (event_table_child.go)
	commands = append(commands, EventStartChildWorkflowRequested, EventChildWorkflowCancelRequested, EventExternalSignalRequested)
	derived = append(derived, EventStartChildWorkflowRequested, EventChildWorkflowStarted, EventChildWorkflowAttemptFailed,
		EventChildWorkflowCancelRequested, EventExternalSignalRequested)
	afterClose = append(afterClose, EventStartChildWorkflowRequested, EventChildWorkflowCancelRequested)
	failures = append(failures, EventChildWorkflowStartFailed, EventChildWorkflowFailed, EventChildWorkflowAttemptFailed, EventExternalSignalFailed)
	for t, p := range map[EventType]pendingEffect{EventStartChildWorkflowRequested: pendingOpens, EventExternalSignalRequested: pendingOpens,
		EventChildWorkflowStarted: pendingUpdates, EventChildWorkflowAttemptFailed: pendingUpdates,
		EventChildWorkflowStartFailed: pendingCloses, EventChildWorkflowCompleted: pendingCloses, EventChildWorkflowFailed: pendingCloses,
		EventExternalSignalDelivered: pendingCloses, EventExternalSignalFailed: pendingCloses} {
		pending[t] = p
	}
	for _, typ := range EventTypes() {
		spec := eventSpecs[typ]
		attrs := newAttrs(typ)
		if seq := reflect.ValueOf(attrs).Elem().FieldByName("Seq"); seq.IsValid() {
			seq.SetInt(9)
		}
		want, ok := pending[typ]
		if !ok {
			want = pendingNone
		}
		if effect, seq := spec.pendingOf(attrs); effect != want || (want != pendingNone && seq != 9) {
			t.Errorf("%s: pending work effect %d on seq %d, want %d on seq 9", typ, effect, seq, want)
		}
		checks := []struct {
			what      string
			got, want bool
		}{
			{"IsCommand", typ.IsCommand(), slices.Contains(commands, typ)},
			{"Closes", typ.Closes(), slices.Contains(closing, typ)},
			{"derives", spec.derivesFrom(attrs), slices.Contains(derived, typ)},
			{"derived after close", spec.deriveAfterClose(), slices.Contains(afterClose, typ)},
			{"records a failure", spec.recordsFailure(), slices.Contains(failures, typ)},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %s is %v, want %v", typ, c.what, c.got, c.want)
			}
		}
	}
	// An approval derives its timeout timer only when it has a timeout.
	if derivesFrom(Event{Type: EventApprovalRequested, Attrs: &ApprovalRequested{}}) ||
		!derivesFrom(Event{Type: EventApprovalRequested, Attrs: &ApprovalRequested{Timeout: time.Hour}}) {
		t.Error("ApprovalRequested derives a timer iff it has a timeout")
	}
	// How each closing event ends the run for a client waiting on its result.
	for _, c := range []struct {
		e    Event
		want runOutcome
	}{
		{Event{Type: EventWorkflowCompleted, Attrs: &WorkflowCompleted{Result: json.RawMessage(`1`)}}, runOutcome{status: StatusCompleted, result: json.RawMessage(`1`)}},
		{Event{Type: EventWorkflowFailed, Attrs: &WorkflowFailed{Failure: &Failure{Message: "x"}}}, runOutcome{status: StatusFailed, failure: &Failure{Message: "x"}}},
		{Event{Type: EventWorkflowCanceled, Attrs: &WorkflowCanceled{}}, runOutcome{status: StatusCanceled, failure: &Failure{Type: "CanceledError", Message: "workflow canceled"}}},
		{Event{Type: EventWorkflowTerminated, Attrs: &WorkflowTerminated{Reason: "r"}}, runOutcome{status: StatusTerminated, failure: &Failure{Type: "Terminated", Message: "r"}}},
		{Event{Type: EventWorkflowContinuedAsNew, Attrs: &WorkflowContinuedAsNew{NewRunID: "n"}}, runOutcome{status: StatusContinuedAsNew, next: "n"}},
		{Event{Type: EventWorkflowReset, Attrs: &WorkflowReset{NewRunID: "m"}}, runOutcome{status: StatusReset, next: "m"}},
	} {
		if got, ok := closeOutcome(c.e); !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: outcome %+v (%v), want %+v", c.e.Type, got, ok, c.want)
		}
	}
	// Replay keys and the names non-determinism errors give commands.
	for _, c := range []struct {
		e    Event
		key  string
		desc string
	}{
		{Event{Type: EventActivityScheduled, Attrs: &ActivityScheduled{Seq: 3, ActivityType: "Charge"}}, "Charge", "ActivityScheduled(Charge, seq 3)"},
		{Event{Type: EventMarkerRecorded, Attrs: &MarkerRecorded{Seq: 4, Kind: "version", ID: "v2"}}, "version:v2", "MarkerRecorded(version v2, seq 4)"},
		{Event{Type: EventMarkerRecorded, Attrs: &MarkerRecorded{Seq: 5, Kind: "side_effect"}}, "side_effect:", "MarkerRecorded(side_effect , seq 5)"},
		{Event{Type: EventApprovalRequested, Attrs: &ApprovalRequested{Seq: 6, Name: "ship"}}, "ship", "ApprovalRequested(ship, seq 6)"},
		{Event{Type: EventTimerStarted, Attrs: &TimerStarted{Seq: 7}}, "", "TimerStarted(seq 7)"},
		{Event{Type: EventWorkflowCompleted, Attrs: &WorkflowCompleted{Seq: 8}}, "", "WorkflowCompleted(seq 8)"},
	} {
		if k := replayKeyOf(c.e.Type, c.e.Attrs); k.key != c.key {
			t.Errorf("%s: replay key %q, want %q", c.e.Type, k.key, c.key)
		}
		if d := describeEvent(c.e); d != c.desc {
			t.Errorf("%s: described as %q, want %q", c.e.Type, d, c.desc)
		}
	}
}
