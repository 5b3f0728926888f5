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

func (h *helpModal) box(m *Model, w, hgt int) string {
	iw := w - 8
	compact := hgt < 40
	sep := "\n\n"
	if compact {
		sep = "\n"
	}
	body := renderHelp(&m.st, h.groups, iw, compact)
	if m.opts.ReadOnly {
		body += sep + m.st.ReadOnly.Render("read-only: actions that change executions are disabled")
	}
	body += sep + m.st.Dim.Render(fit("any key closes · :approvals :failed :stuck :running :queues :save :view", iw))
	return m.st.Dialog.Render(m.st.Title.Render(h.title) + sep + body)
}
