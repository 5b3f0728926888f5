package tui

import "github.com/foremanhq/foreman/engine"

// eventContext walks a history in order and says what each event means:
// the lines are declared with each event type in the engine's registry
// (engine.EventNarrator), rendered with the console's own formats.
type eventContext struct {
	n *engine.EventNarrator
}

// eventLineFormat renders the parts of an event's line as the rest of the
// console shows durations, text, payloads and run ids.
var eventLineFormat = engine.LineFormat{
	Duration: preciseDuration,
	Age:      compactDuration,
	Text:     oneLine,
	Payload:  compactJSON,
	RunID:    shortID,
}

func newEventContext() *eventContext {
	return &eventContext{n: engine.NewEventNarrator(eventLineFormat)}
}

// summary is one line saying what an event means, and whether it records
// a failure.
func (c *eventContext) summary(e engine.Event) (string, bool) {
	return c.n.Describe(e)
}
