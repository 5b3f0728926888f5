package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// The event registry. Every event type is declared once, in the tables of
// event_table_*.go, with everything the system knows about it: its
// attributes type, whether workflow code issues it (and so replay checks
// it, by its replay key), whether it closes the run (and how, for a client
// waiting on the result), what the dispatcher derives from it, what it does
// to the work the run waits on, how Summarize folds it, and how it reads as
// one line in the console. Replay, the dispatcher and reset, the client,
// Summarize, the batch decoder (and so the search indexer) and the console
// read it from here; TestEventRegistryComplete fails when an entry leaves a
// decision out. (The executor's apply stays one switch over the facts, as
// replay is in go-workflows; the test checks it takes every fact.)

// eventKind says who records an event and whether it ends the run. The zero
// value is invalid, so an entry cannot leave the decision out.
type eventKind uint8

const (
	_ eventKind = iota
	// kindFact: from outside the code (a result, a signal, an operator).
	kindFact
	// kindCommand: a decision of workflow code, matched against the code on replay.
	kindCommand
	// kindClosingFact: a fact that ends the run (terminate, reset).
	kindClosingFact
	// kindClosingCommand: a command that ends the run (complete, fail, ...).
	kindClosingCommand
)

// deriveRule says what the dispatcher does with an event. The zero value is
// invalid, so an entry cannot leave the decision out.
type deriveRule uint8

const (
	_ deriveRule = iota
	// deriveNothing: the event implies no task, timer or notice.
	deriveNothing
	// deriveWhileOpen: derived unless its batch closes the run (a closed
	// run starts nothing new).
	deriveWhileOpen
	// deriveAlways: derived even in a batch that closes the run (it stops
	// running work, or starts the run that replaces this one).
	deriveAlways
)

// pendingEffect says what an event does to the work a run waits on
// (activities, timers, approvals). The zero value is invalid, so an entry
// cannot leave the decision out.
type pendingEffect uint8

const (
	_ pendingEffect = iota
	// pendingNone: the event touches no pending work.
	pendingNone
	// pendingOpens: the event opens pending work (named by its seq).
	pendingOpens
	// pendingUpdates: the event changes open work (a failed attempt to retry).
	pendingUpdates
	// pendingCloses: the event ends open work.
	pendingCloses
)

// replayKey is what must match, besides the event type, when replayed code
// issues a command again.
type replayKey struct {
	seq int64  // the command's seq, in the order the code issued it
	key string // what else must match ("" for type and seq alone)
	// label names the command in a non-determinism error, before its seq.
	label string
}

// runOutcome is how a closing event ends the run, as a client waiting on
// the run's result sees it.
type runOutcome struct {
	status Status // how the run closed
	// next is the run that carries the work on (continue-as-new, reset):
	// the result a client waits for is that run's.
	next    string
	result  json.RawMessage // a completed run's result
	failure *Failure        // why the run did not complete
}

// eventDef declares one event type, typed on its attributes A.
type eventDef[A any] struct {
	kind eventKind
	// failure: the event records a failure (the console marks its line).
	failure bool
	// replay: for commands (and only for them), their replay key.
	replay  func(a *A) replayKey
	derives deriveRule
	// deriveIf, if set, narrows derives to some events of the type (the
	// dispatcher then skips decoding batches that hold none).
	deriveIf func(a *A) bool
	// derive stores what the event implies; set iff derives is not deriveNothing.
	derive  func(ctx context.Context, s Store, h BatchHeader, e Event, a *A) error
	pending pendingEffect
	// workSeq names the pending work the event touches; set iff pending is
	// not pendingNone.
	workSeq func(a *A) int64
	// outcome: for events that close the run (and only for them), how.
	outcome func(a *A) runOutcome
	// fold applies the event to a run's summary (Summarize).
	fold func(x *summary, e Event, a *A)
	// line says in one line what the event means (the console's history).
	line func(n *EventNarrator, e Event, a *A) string
}

// eventSpec is an eventDef with its attributes type erased, as the
// registry holds it.
type eventSpec interface {
	newAttrs() any
	eventKind() eventKind
	recordsFailure() bool
	replayKey(attrs any) replayKey
	// derivesFrom tells whether the dispatcher must look at this event.
	derivesFrom(attrs any) bool
	deriveAfterClose() bool
	deriveFrom(ctx context.Context, s Store, h BatchHeader, e Event) error
	// pendingOf says what the event does to pending work, and to which.
	pendingOf(attrs any) (pendingEffect, int64)
	outcomeOf(attrs any) (runOutcome, bool)
	foldInto(x *summary, e Event)
	lineOf(n *EventNarrator, e Event) string
	// missing names the entries the declaration leaves out.
	missing() []string
}

func (d eventDef[A]) newAttrs() any        { return new(A) }
func (d eventDef[A]) eventKind() eventKind { return d.kind }
func (d eventDef[A]) recordsFailure() bool { return d.failure }

func (d eventDef[A]) replayKey(attrs any) replayKey {
	if a, ok := attrs.(*A); ok && d.replay != nil {
		return d.replay(a)
	}
	return replayKey{}
}

func (d eventDef[A]) derivesFrom(attrs any) bool {
	if d.derives == deriveNothing || d.derive == nil {
		return false
	}
	a, ok := attrs.(*A)
	return ok && (d.deriveIf == nil || d.deriveIf(a))
}

func (d eventDef[A]) deriveAfterClose() bool { return d.derives == deriveAlways }

func (d eventDef[A]) deriveFrom(ctx context.Context, s Store, h BatchHeader, e Event) error {
	if a, ok := e.Attrs.(*A); ok && d.derivesFrom(a) {
		return d.derive(ctx, s, h, e, a)
	}
	return nil
}

func (d eventDef[A]) pendingOf(attrs any) (pendingEffect, int64) {
	if a, ok := attrs.(*A); ok && d.workSeq != nil {
		return d.pending, d.workSeq(a)
	}
	return pendingNone, 0
}

func (d eventDef[A]) outcomeOf(attrs any) (runOutcome, bool) {
	if a, ok := attrs.(*A); ok && d.outcome != nil {
		return d.outcome(a), true
	}
	return runOutcome{}, false
}

func (d eventDef[A]) foldInto(x *summary, e Event) {
	if a, ok := e.Attrs.(*A); ok && d.fold != nil {
		d.fold(x, e, a)
	}
}

func (d eventDef[A]) lineOf(n *EventNarrator, e Event) string {
	if a, ok := e.Attrs.(*A); ok && d.line != nil {
		return d.line(n, e, a)
	}
	return ""
}

func (d eventDef[A]) missing() []string {
	command := d.kind == kindCommand || d.kind == kindClosingCommand
	closing := d.kind == kindClosingFact || d.kind == kindClosingCommand
	var m []string
	for _, c := range []struct {
		lacks bool
		entry string
	}{
		{d.kind == 0, "kind (kindFact, kindCommand, kindClosingFact or kindClosingCommand)"},
		{command != (d.replay != nil), "replay (set iff the event is a command)"},
		{closing != (d.outcome != nil), "outcome (set iff the event closes the run)"},
		{d.derives == 0, "derives (deriveNothing, deriveWhileOpen or deriveAlways)"},
		{d.derives != 0 && (d.derives == deriveNothing) != (d.derive == nil), "derive (set iff derives is not deriveNothing)"},
		{d.derives == deriveNothing && d.deriveIf != nil, "no deriveIf (the event derives nothing)"},
		{d.pending == 0, "pending (pendingNone, pendingOpens, pendingUpdates or pendingCloses)"},
		{d.pending != 0 && (d.pending == pendingNone) != (d.workSeq == nil), "workSeq (set iff pending is not pendingNone)"},
		{d.fold == nil, "fold (an empty func if Summarize ignores it)"},
		{d.line == nil, "line (the console's one-line description)"},
	} {
		if c.lacks {
			m = append(m, c.entry)
		}
	}
	return m
}

// eventSpecs is the registry, filled by the tables' init functions (a
// package-level initializer would be an initialization cycle: deriving
// reads the registry again, for the headers of the batches it appends).
var eventSpecs = map[EventType]eventSpec{}

// register adds a table of declarations to the registry.
func register(table map[EventType]eventSpec) {
	for t, s := range table {
		if _, dup := eventSpecs[t]; dup {
			panic(fmt.Sprintf("engine: event type %s declared twice", t))
		}
		eventSpecs[t] = s
		eventTypeNames[string(t)] = string(t)
	}
}

// EventTypes returns every event type a history may hold, sorted by name.
func EventTypes() []EventType { return slices.Sorted(maps.Keys(eventSpecs)) }

// unknownEvent stands for an event type the registry does not know: it
// derives, folds, and narrates nothing.
var unknownEvent eventSpec = eventDef[struct{}]{}

// specOf returns t's registry entry, or unknownEvent.
func specOf(t EventType) eventSpec {
	if s, ok := eventSpecs[t]; ok {
		return s
	}
	return unknownEvent
}

// IsCommand tells whether the event records a decision of workflow code.
func (t EventType) IsCommand() bool {
	k := specOf(t).eventKind()
	return k == kindCommand || k == kindClosingCommand
}

// Closes tells whether the event ends the run.
func (t EventType) Closes() bool {
	k := specOf(t).eventKind()
	return k == kindClosingFact || k == kindClosingCommand
}

// newAttrs returns an empty attributes value for t, or nil if t is unknown.
func newAttrs(t EventType) any {
	if s, ok := eventSpecs[t]; ok {
		return s.newAttrs()
	}
	return nil
}

// replayKeyOf is the replay key of a command's attributes.
func replayKeyOf(t EventType, attrs any) replayKey { return specOf(t).replayKey(attrs) }

// describeEvent names a command event the way a non-determinism error shows it.
func describeEvent(e Event) string {
	k := replayKeyOf(e.Type, e.Attrs)
	if k.label != "" {
		return fmt.Sprintf("%s(%s, seq %d)", e.Type, k.label, k.seq)
	}
	return fmt.Sprintf("%s(seq %d)", e.Type, k.seq)
}

// closeOutcome is how e ends the run, if it does.
func closeOutcome(e Event) (runOutcome, bool) { return specOf(e.Type).outcomeOf(e.Attrs) }

// derivesFrom tells whether the dispatcher must look at e.
func derivesFrom(e Event) bool { return specOf(e.Type).derivesFrom(e.Attrs) }
