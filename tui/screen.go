package tui

import (
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// screen is one page of the console: the executions list, a detail view,
// the approvals inbox... The root model keeps them in a stack (breadcrumbs,
// Esc goes back) and routes keys and replies to them.
type screen interface {
	sid() int
	// crumb is the screen's part of the breadcrumbs.
	crumb() string
	// acts tells whether actions make sense here (read-only refusals).
	acts() bool
	help(k keyMap) []helpGroup
	footer(k keyMap) []key.Binding
	// header is the second header line (counts), "" for none.
	header(m *Model) string
	load(m *Model) tea.Cmd
	refresh(m *Model) tea.Cmd
	resize(m *Model) tea.Cmd
	key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool)
	receive(m *Model, msg tea.Msg) tea.Cmd
	view(m *Model, w, h int) string
}

// mouser is a screen that handles mouse events; y is relative to its body.
type mouser interface {
	mouse(m *Model, msg tea.MouseMsg, bodyTop int) tea.Cmd
}

// modal takes every key while it is open: dialogs, the palette, the query
// bar, help.
type modal interface {
	key(m *Model, k tea.KeyPressMsg) tea.Cmd
}

// overlay is a modal drawn as a box over the screen.
type overlay interface {
	modal
	box(m *Model, w, h int) string
}

// receiver is a modal that gets replies of its own requests.
type receiver interface {
	mid() int
	receive(m *Model, msg tea.Msg) tea.Cmd
}

type paster interface{ paste(s string) }

// flash is the footer message: what just happened, or what went wrong.
type flash struct {
	seq  int
	text string
	err  bool
}

func (m *Model) setFlash(err bool, format string, args ...any) tea.Cmd {
	m.flash = flash{seq: m.flash.seq + 1, text: fmt.Sprintf(format, args...), err: err}
	seq := m.flash.seq
	d := 5 * time.Second
	if err {
		d = 15 * time.Second
	}
	return m.tick(d, func(time.Time) tea.Msg { return flashExpiredMsg{seq: seq} })
}

func (m *Model) flashOK(format string, args ...any) tea.Cmd {
	return m.setFlash(false, format, args...)
}

func (m *Model) flashErr(format string, args ...any) tea.Cmd {
	return m.setFlash(true, format, args...)
}

// clearErrFlash takes an error off the footer once something the operator
// did next succeeded without a message of its own: an old error must not
// read as the outcome of the new action.
func (m *Model) clearErrFlash() {
	if m.flash.err {
		m.flash = flash{seq: m.flash.seq + 1}
	}
}
