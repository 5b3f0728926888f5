package tui

import (
	tea "charm.land/bubbletea/v2"
)

// helpModal is the ? overlay, generated from the keymap of the screen it
// was opened on (disabled bindings, such as writes in read-only mode, are
// left out).
type helpModal struct {
	groups []helpGroup
	title  string
}

func newHelpModal(m *Model) *helpModal {
	return &helpModal{groups: m.top().help(m.keys), title: "Keys — " + m.top().crumb()}
}

func (h *helpModal) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	m.closeModal()
	return nil
}

func (h *helpModal) box(m *Model, w, _ int) string {
	iw := w - 8
	body := renderHelp(&m.st, h.groups, iw)
	if m.opts.ReadOnly {
		body += "\n\n" + m.st.ReadOnly.Render("read-only: actions that change executions are disabled")
	}
	body += "\n\n" + m.st.Dim.Render("any key closes · : commands: approvals failed stuck running queues save view mouse")
	return m.st.Dialog.Render(m.st.Title.Render(h.title) + "\n\n" + body)
}
