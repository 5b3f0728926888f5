package tui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Health is what the console reads of the engine's own state: the pulse
// figures foreman-engine serves beside the search API (searchapi.Pulse),
// which also say which queues a worker polls.
type Health interface {
	Pulse(ctx context.Context, req searchapi.PulseRequest) (searchapi.Pulse, error)
}

// healthStale: queue health older than this is asked again when a screen
// needs it (the no-worker reasons of lists and the detail view).
const healthStale = 5 * time.Second

// healthMsg is the engine's pulse, kept by the model for the no-worker
// reasons (from any screen that asked) and shown by :pulse.
type healthMsg struct {
	pulse searchapi.Pulse
	at    time.Time
	err   error
}

// fetchHealth asks for the pulse when what the model holds is stale (and
// no request is out).
func (m *Model) fetchHealth() tea.Cmd {
	now := m.now()
	if m.healthAsked.After(now.Add(-healthStale)) {
		return nil
	}
	m.healthAsked = now
	return fetch(m, m.readPulse, func(p searchapi.Pulse, err error) tea.Msg { return healthMsg{pulse: p, at: now, err: err} })
}

func (m *Model) readPulse(ctx context.Context) (searchapi.Pulse, error) {
	return m.b.Pulse(ctx, searchapi.PulseRequest{Seconds: pulseSeconds})
}

// onHealth keeps the newest pulse (an error keeps the previous figures:
// a reason shown from 5 s old figures beats none).
// It also keeps the queues whose runs no worker advances (no workflow
// poller announced), for the list's WAITING and WHY cells.
func (m *Model) onHealth(h healthMsg) {
	if h.err != nil {
		return
	}
	m.health = h
	m.idle = map[string]bool{}
	for _, q := range h.pulse.Queues {
		if q.WorkflowPollers == 0 {
			m.idle[q.Queue] = true
		}
	}
}

// noWorkerReason is "no worker polling queue X" when no announced worker
// takes the tasks x waits on, "" otherwise or when the console does not
// know (an engine without the pulse API).
func (m *Model) noWorkerReason(x *engine.Execution) string {
	if m.health.at.IsZero() {
		return ""
	}
	return engine.NoWorkerReason(x, m.health.pulse.Polls)
}
