package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// View renders the frame: a two-line header (who, live state, counts), the
// breadcrumbs or the query bar, the screen, and a footer with the last
// message and the keys that work here. Dialogs are drawn over it.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "foreman — " + m.top().crumb()
	if m.mouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	return v
}

func (m *Model) render() string {
	if m.tooSmall() {
		return fmt.Sprintf("foreman needs a terminal of at least %dx%d; this one is %dx%d.\nEnlarge the window, or press q to quit.",
			minWidth, minHeight, m.w, m.h)
	}
	top := m.bodyTop()
	bodyH := m.h - top - 2
	lines := make([]string, 0, m.h)
	lines = append(lines, m.titleLine(), fit(m.top().header(m), m.w))
	if qb, ok := m.modal.(*queryBar); ok {
		lines = append(lines, qb.lines(m, m.w)...)
	} else {
		lines = append(lines, m.crumbLine())
	}
	body := m.top().view(m, m.w, bodyH)
	bl := strings.Split(body, "\n")
	for i := 0; i < bodyH; i++ {
		if i < len(bl) {
			lines = append(lines, padLine(bl[i], m.w))
		} else {
			lines = append(lines, strings.Repeat(" ", m.w))
		}
	}
	lines = append(lines, m.statusLine(), m.keyLine())
	frame := strings.Join(lines, "\n")
	switch md := m.modal.(type) {
	case overlay:
		box := md.box(m, m.w, m.h)
		frame = place(frame, box, m.w, m.h)
	case *palette:
		if sug := md.suggestions(m, m.w); sug != "" {
			frame = placeAt(frame, sug, 0, m.h-2-lipgloss.Height(sug))
		}
	}
	return frame
}

// bodyTop is the first line of the screen body.
func (m *Model) bodyTop() int {
	if qb, ok := m.modal.(*queryBar); ok {
		return 2 + len(qb.lines(m, m.w))
	}
	return 3
}

func (m *Model) titleLine() string {
	left := m.st.Title.Render("foreman")
	if m.opts.Context != "" {
		left += m.st.Dim.Render(" @") + m.opts.Context
	}
	if m.opts.Production {
		left += " " + m.st.Production.Render(" PRODUCTION ")
	}
	// "as" whom the operator says they act for; the authenticated user
	// (the principal NATS and the engine know) beside it when different.
	switch o := m.opts; {
	case o.Identity != "" && o.Principal != "" && o.Identity != o.Principal:
		left += m.st.Dim.Render(" as ") + o.Identity + m.st.Dim.Render(" (user ") + o.Principal + m.st.Dim.Render(")")
	case o.Identity != "":
		left += m.st.Dim.Render(" as ") + o.Identity
	case o.Principal != "":
		left += m.st.Dim.Render(" as ") + o.Principal
	}
	if m.opts.ReadOnly {
		left += "  " + m.st.ReadOnly.Render("[read-only]")
	}
	var right string
	switch {
	case !m.conn.Connected:
		right = m.connBanner()
	case m.busy != nil:
		right = m.busyLine()
	case m.live.off:
		right = m.st.Warn.Render("○ updates off")
	case m.lag.err != nil:
		right = m.st.Warn.Render("○ index unreachable")
	case m.lag.lag.Behind > 0:
		right = m.st.Warn.Render(fmt.Sprintf("● live, index %s behind", preciseDuration(msDuration(m.lag.lag.LagMS))))
	default:
		right = m.st.OK.Render("● live")
	}
	if !m.conn.Connected && lipgloss.Width(left)+lipgloss.Width(right) >= m.w {
		// the banner matters more than who is logged in
		return padLine(right, m.w)
	}
	return spread(left, right, m.w)
}

func (m *Model) crumbLine() string {
	var parts []string
	for i, s := range m.stack {
		c := s.crumb()
		if sc, ok := s.(shortCrumber); ok && i < len(m.stack)-1 && !m.drilledFrom(i) {
			// A view opened from the palette does not apply the search of
			// the list under it: the crumb must not suggest it does.
			c = sc.shortCrumb()
		}
		if i == len(m.stack)-1 {
			parts = append(parts, m.st.CrumbLast.Render(c))
		} else {
			parts = append(parts, m.st.Crumb.Render(c))
		}
	}
	return fit(strings.Join(parts, m.st.Dim.Render(" › ")), m.w)
}

// shortCrumber is a screen whose crumb without its search is shorter.
type shortCrumber interface{ shortCrumb() string }

// drilledFrom tells whether the screen above stack[i] was opened from it
// (a run's detail, a queue's runs), rather than from the palette.
func (m *Model) drilledFrom(i int) bool {
	switch m.stack[i+1].(type) {
	case *detailScreen:
		return true
	}
	return i > 0 // only the first screen is left under palette views (jump)
}

// statusLine is the palette's input while it is open, else the last message.
func (m *Model) statusLine() string {
	if p, ok := m.modal.(*palette); ok {
		return p.line(m, m.w)
	}
	switch {
	case m.flash.text == "":
		return strings.Repeat(" ", m.w)
	case m.flash.err:
		return m.st.Error.Render(fit("✗ "+oneLine(m.flash.text), m.w))
	}
	return m.st.Info.Render(fit("✓ "+oneLine(m.flash.text), m.w))
}

// keyLine shows the keys that work here, from the screen's keymap, and
// at the right end, always in sight, ? help and what q does here.
func (m *Model) keyLine() string {
	nk := m.navKeys()
	right := shortHelp(&m.st, []key.Binding{nk.Help, nk.Back}, m.w)
	var ks []key.Binding
	for _, b := range m.top().footer(m.keys) {
		if !slices.Equal(b.Keys(), nk.Back.Keys()) && !slices.Equal(b.Keys(), nk.Help.Keys()) {
			ks = append(ks, b)
		}
	}
	return spread(shortHelp(&m.st, ks, m.w-ansi.StringWidth(right)-2), right, m.w)
}

// spread puts left and right on one line of width w.
func spread(left, right string, w int) string {
	gap := w - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return fit(left, w)
	}
	return left + strings.Repeat(" ", gap) + right
}

// padLine pads or cuts a rendered line to exactly w cells.
func padLine(s string, w int) string {
	n := ansi.StringWidth(s)
	switch {
	case n < w:
		return s + strings.Repeat(" ", w-n)
	case n > w:
		return ansi.Truncate(s, w, "")
	}
	return s
}

// place draws box centred over frame.
func place(frame, box string, w, h int) string {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	return placeAt(frame, box, max((w-bw)/2, 0), max((h-bh)/2, 0))
}

// placeAt draws box over frame with its top-left corner at x, y.
func placeAt(frame, box string, x, y int) string {
	fl := strings.Split(frame, "\n")
	for i, bl := range strings.Split(box, "\n") {
		row := y + i
		if row < 0 || row >= len(fl) {
			continue
		}
		line := fl[row]
		lw := ansi.StringWidth(line)
		bw := ansi.StringWidth(bl)
		left := ansi.Cut(line, 0, x)
		if n := ansi.StringWidth(left); n < x {
			left += strings.Repeat(" ", x-n)
		}
		right := ""
		if x+bw < lw {
			right = ansi.Cut(line, x+bw, lw)
		}
		fl[row] = left + "\x1b[m" + bl + "\x1b[m" + right
	}
	return strings.Join(fl, "\n")
}

// tableRows is how many data rows a table screen shows under its column
// headers.
func (m *Model) tableRows() int {
	return max(m.h-m.bodyTop()-2-1, 1)
}
