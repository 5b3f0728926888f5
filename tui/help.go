package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// helpModal is the ? overlay, generated from the keymap of the screen it
// was opened on (disabled bindings, such as writes in read-only mode, are
// left out), with the legend of the glyphs the screens use. Taller than
// the terminal (80x24), it scrolls.
type helpModal struct {
	groups []helpGroup
	title  string
	scroll int
}

func newHelpModal(m *Model) *helpModal {
	groups := m.top().help(m.navKeys())
	groups = append(groups, legendGroup())
	return &helpModal{groups: groups, title: "Keys — " + m.top().crumb()}
}

// navKeys is the keymap with q described as it acts here: back one screen,
// or quit on the first one. ctrl+c always quits.
func (m *Model) navKeys() keyMap {
	k := m.keys
	if len(m.stack) == 1 {
		k.Back.SetHelp("q", "quit")
	} else {
		k.Back.SetHelp("esc/q", "back")
	}
	k.Quit.SetHelp("ctrl+c", "quit")
	return k
}

// legendGroup explains the glyphs: the counts header at 80 columns shows
// them without their words.
func legendGroup() helpGroup {
	var ks []key.Binding
	for _, st := range allStatuses {
		ks = append(ks, key.NewBinding(key.WithKeys(statusGlyph(st)), key.WithHelp(statusGlyph(st), statusWord(st))))
	}
	for _, g := range [][2]string{{"▲ ▼", "sorted: values rise / fall"}, {"▶", "cursor"}, {"*", "marked"}} {
		ks = append(ks, key.NewBinding(key.WithKeys(g[0]), key.WithHelp(g[0], g[1])))
	}
	return helpGroup{"Legend", ks}
}

func (h *helpModal) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "j", "down":
		h.scroll++
	case "k", "up":
		h.scroll = max(h.scroll-1, 0)
	case "ctrl+f", "pgdown", " ", "space":
		h.scroll += 10
	case "ctrl+b", "pgup":
		h.scroll = max(h.scroll-10, 0)
	default:
		m.closeModal()
	}
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
	foot := "any key closes · :approvals :failed :stuck :running :queues :pulse :save :view"
	lines := strings.Split(body, "\n")
	// Room inside the box: the frame (2), the title and its separator, the
	// closing line and its separator.
	room := max(hgt-2-2*(1+strings.Count(sep, "\n")), 3)
	if len(lines) > room {
		h.scroll = min(h.scroll, len(lines)-room)
		lines = lines[h.scroll : h.scroll+room]
		foot = "j/k scroll (" + thousands(h.scroll+room) + "/" + thousands(len(strings.Split(body, "\n"))) + ") · any other key closes"
	} else {
		h.scroll = 0
	}
	body = strings.Join(lines, "\n") + sep + m.st.Dim.Render(fit(foot, iw))
	return m.st.Dialog.Render(m.st.Title.Render(h.title) + sep + body)
}
