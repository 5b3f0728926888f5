package tui

import (
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"
)

// ConnState is the console's connection to the engine as the NATS client
// sees it.
type ConnState struct {
	// Connected is false while the client has lost the server and is
	// reconnecting.
	Connected bool
	// URL is the server the console dials (credentials redacted).
	URL string
}

// Connectivity is implemented by a Backend that can tell whether it is
// connected. Without it the console assumes it always is. ConnState must
// not block: the console asks it once a second from Update.
type Connectivity interface {
	ConnState() ConnState
}

// connState is what the console knows of its connection: the last state
// polled and since when the link has been down.
type connState struct {
	ConnState
	downSince time.Time
}

// pollConn reads the backend's connection state (on every clock tick: a
// lost engine shows in the header within about a second). Back online,
// the screen reloads what it could not while down, and the update stream
// restarts if the outage ended it.
func (m *Model) pollConn() tea.Cmd {
	c, ok := m.b.(Connectivity)
	if !ok {
		return nil
	}
	s := c.ConnState()
	was := m.conn.Connected
	m.conn.ConnState = s
	switch {
	case was && !s.Connected:
		m.conn.downSince = m.now()
	case !was && s.Connected:
		cmds := []tea.Cmd{m.top().refresh(m), m.fetchLag(), m.flashOK("reconnected to %s", s.URL)}
		if m.live.off {
			m.live.off = false
			m.updates = m.b.Updates(m.ctx)
			cmds = append(cmds, m.listen())
		}
		return tea.Batch(cmds...)
	}
	return nil
}

// offline is why nothing can reach the engine now, or nil.
func (m *Model) offline() error {
	if m.conn.Connected {
		return nil
	}
	return fmt.Errorf("not connected to the engine at %s (reconnecting)", m.conn.URL)
}

// connBanner is the header's right side while the engine is unreachable:
// the NATS link itself is down, so the index is not to blame.
func (m *Model) connBanner() string {
	down := m.now().Sub(m.conn.downSince).Truncate(time.Second)
	return m.st.Error.Render(fmt.Sprintf("✗ disconnected from %s, retrying (%s)", m.conn.URL, down))
}

// running is the one write the console waits for: its dialog has closed,
// and keys typed meanwhile are dropped, so none lands in a dialog opened
// by a stray key while the operator waits.
type running struct {
	what  string
	since time.Time
	frame int
}

// spinFrames animate the header while a write runs.
var spinFrames = [...]string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// spinEvery is the spinner's frame time.
const spinEvery = 120 * time.Millisecond

type spinMsg struct{}

// startRunning marks a write in flight and starts the spinner.
func (m *Model) startRunning(what string) tea.Cmd {
	m.busy = &running{what: what, since: m.now()}
	return m.tick(spinEvery, func(time.Time) tea.Msg { return spinMsg{} })
}

// spin advances the spinner while a write runs.
func (m *Model) spin() tea.Cmd {
	if m.busy == nil {
		return nil
	}
	m.busy.frame++
	return m.tick(spinEvery, func(time.Time) tea.Msg { return spinMsg{} })
}

// busyKey handles a key while a write runs: Esc stops waiting (the
// outcome still shows in the footer when it comes); every other key is
// dropped, so none acts before the write answered.
func (m *Model) busyKey(k tea.KeyPressMsg) tea.Cmd {
	if k.String() != "esc" {
		return nil
	}
	what := m.busy.what
	m.busy = nil
	return m.flashOK("%s: still running; its outcome will show here", what)
}

// busyLine is the header's right side while a write runs.
func (m *Model) busyLine() string {
	return m.st.Warn.Render(fmt.Sprintf("%s %s… (keys held, esc stops waiting)", spinFrames[m.busy.frame%len(spinFrames)], m.busy.what))
}
