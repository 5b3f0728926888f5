package engine

import (
	"fmt"
	"strings"
	"time"
)

// EventNarrator says in one line what each event of a history means, for a
// person reading the history (the console's history tab). Give it a run's
// events in order: a later event is told by what it refers to ("ChargeCard
// took 1.2s", "manager approved after 2h"), which the narrator remembers.
// The lines themselves are declared with each event type in the registry.
type EventNarrator struct {
	f          LineFormat
	activities map[int64]activityRef
	timers     map[int64]time.Time
	approvals  map[int64]time.Time
}

// LineFormat renders the parts of a narrated line the way the reader's
// surface shows them elsewhere. A nil field uses a plain default.
type LineFormat struct {
	Duration func(time.Duration) string // a measured span ("took 1.2s")
	Age      func(time.Duration) string // a coarse span ("after 2h", "timeout 1d")
	Text     func(string) string        // free text (reasons, messages), on one line
	Payload  func([]byte) string        // a JSON payload, compact
	RunID    func(string) string        // a run id, shortened
}

type activityRef struct {
	name string
	at   time.Time
}

// NewEventNarrator returns a narrator for one history.
func NewEventNarrator(f LineFormat) *EventNarrator {
	if f.Duration == nil {
		f.Duration = time.Duration.String
	}
	if f.Age == nil {
		f.Age = time.Duration.String
	}
	if f.Text == nil {
		f.Text = func(s string) string { return strings.Join(strings.Fields(s), " ") }
	}
	if f.Payload == nil {
		f.Payload = func(raw []byte) string { return string(raw) }
	}
	if f.RunID == nil {
		f.RunID = func(id string) string { return id }
	}
	return &EventNarrator{f: f, activities: map[int64]activityRef{}, timers: map[int64]time.Time{}, approvals: map[int64]time.Time{}}
}

// Describe returns e's line and whether e records a failure. An event type
// the registry does not know reads as "".
func (n *EventNarrator) Describe(e Event) (line string, failure bool) {
	s := specOf(e.Type)
	return s.lineOf(n, e), s.recordsFailure()
}

// by names who acted: the authenticated principal, and the identity they
// declared acting for when it differs.
func (n *EventNarrator) by(principal, onBehalfOf string) string {
	s := ""
	if principal != "" {
		s = " by " + principal
	}
	if onBehalfOf != "" && onBehalfOf != principal {
		s += " on behalf of " + onBehalfOf
	}
	return s
}

func (n *EventNarrator) reason(r string) string {
	if r == "" {
		return "no reason given"
	}
	return fmt.Sprintf("%q", n.f.Text(r))
}

func (n *EventNarrator) failureText(f *Failure) string {
	if f == nil {
		return "unknown failure"
	}
	return n.f.Text(f.Error())
}

// withPayload appends a compact rendering of a JSON payload.
func (n *EventNarrator) withPayload(s string, raw []byte) string {
	if len(raw) == 0 || string(raw) == "null" {
		return s
	}
	return s + " " + n.f.Payload(raw)
}
