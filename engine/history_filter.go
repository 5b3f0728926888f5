package engine

import (
	"fmt"
	"strings"
)

// The history tools of `foreman history` and the console's timeline: a
// filter by event type, failures only, and a compact view without the
// workflow-task bookkeeping; and the key two runs' histories are aligned
// by. Each reads the event registry, so a new event type needs nothing
// here.

// RecordsFailure tells whether the event records a failure (the console
// marks its line; "failures only" keeps it).
func (t EventType) RecordsFailure() bool { return specOf(t).recordsFailure() }

// IsBookkeeping tells whether the event is workflow-task bookkeeping: a
// workflow task completed, which says only that the code ran. The compact
// view folds it.
func (t EventType) IsBookkeeping() bool { return t == EventWorkflowTaskCompleted }

// HistoryFilter selects the events of a history a reader wants to see. The
// zero value keeps every event.
type HistoryFilter struct {
	// Types keeps only these event types (none: every type).
	Types []EventType
	// Failures keeps only the events that record a failure.
	Failures bool
	// Compact folds workflow-task bookkeeping, and repeated failures of the
	// same workflow task into the last one.
	Compact bool
}

// IsZero tells whether the filter keeps every event.
func (f HistoryFilter) IsZero() bool { return len(f.Types) == 0 && !f.Failures && !f.Compact }

// Select returns the indexes of the events f keeps, in order.
func (f HistoryFilter) Select(events []Event) []int {
	keep := make([]int, 0, len(events))
	for i, e := range events {
		if f.keeps(events, i, e) {
			keep = append(keep, i)
		}
	}
	return keep
}

func (f HistoryFilter) keeps(events []Event, i int, e Event) bool {
	if len(f.Types) > 0 && !typeIn(e.Type, f.Types) {
		return false
	}
	if f.Failures && !e.Type.RecordsFailure() {
		return false
	}
	if f.Compact {
		if e.Type.IsBookkeeping() {
			return false
		}
		// a workflow task failing attempt after attempt reads as its last attempt
		if e.Type == EventWorkflowTaskFailed && i+1 < len(events) && events[i+1].Type == EventWorkflowTaskFailed {
			return false
		}
	}
	return true
}

func typeIn(t EventType, ts []EventType) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// ParseEventTypes reads a comma-separated list of event type names, each
// matched without regard to case as a part of the name ("activity" is
// every Activity* event, "signal" SignalReceived), into the event types
// it names. A word that names none is an error listing the types.
func ParseEventTypes(spec string) ([]EventType, error) {
	var out []EventType
	for _, word := range strings.Split(spec, ",") {
		word = strings.ToLower(strings.TrimSpace(word))
		if word == "" {
			continue
		}
		n := len(out)
		for _, t := range EventTypes() {
			if strings.Contains(strings.ToLower(string(t)), word) && !typeIn(t, out) {
				out = append(out, t)
			}
		}
		if len(out) == n && !matchesAny(word, out) {
			names := make([]string, 0, len(eventSpecs))
			for _, t := range EventTypes() {
				names = append(names, string(t))
			}
			return nil, fmt.Errorf("%w: no event type contains %q (types: %s)", ErrInvalidArgument, word, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// matchesAny tells whether word names a type already listed (a repeated word).
func matchesAny(word string, ts []EventType) bool {
	for _, t := range ts {
		if strings.Contains(strings.ToLower(string(t)), word) {
			return true
		}
	}
	return false
}

// HistoryKeys are what align the events of two runs' histories, one per
// event: its type, and what it is about as replay names it — for a
// decision of workflow code, what it decided on ("ActivityScheduled
// Charge"); for an outcome of pending work, that work ("ActivityCompleted
// Charge", not any ActivityCompleted).
func HistoryKeys(events []Event) []string {
	keys := make([]string, len(events))
	work := map[int64]string{} // seq -> what opened it
	for i, e := range events {
		label := replayKeyOf(e.Type, e.Attrs).label
		effect, seq := specOf(e.Type).pendingOf(e.Attrs)
		switch {
		case effect == pendingOpens && label != "":
			work[seq] = label
		case effect != pendingNone && label == "":
			label = work[seq]
		}
		keys[i] = string(e.Type)
		if label != "" {
			keys[i] += " " + label
		}
	}
	return keys
}
