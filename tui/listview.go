package tui

import (
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Rendering of the run list: the counts header, the table, and the mouse
// (which needs the same geometry).

func (l *runList) header(m *Model) string {
	var head string
	switch {
	case l.countErr != nil:
		head = m.st.Error.Render("counts: " + errorText(l.countErr))
	case !l.win.known:
		head = m.st.Dim.Render("searching…")
	default:
		head = m.st.Bold.Render(thousands(l.win.total)) + m.st.Dim.Render(" matches") + l.peopleNote(m)
	}
	var tail string
	if n := len(l.marks); n > 0 {
		tail += "   " + m.st.Marked.Render(thousands(n)+" marked")
	}
	if l.scopeAll {
		tail += "   " + m.st.Scope.Render(" NEXT ACTION: ALL "+thousands(l.win.total)+" MATCHES ")
	}
	if l.newAbove > 0 {
		tail += "   " + m.st.Marked.Render("↑ "+thousands(l.newAbove)+" new (g)")
	}
	if l.countErr != nil || !l.win.known {
		return head + tail
	}
	// Counts by group, words and all; glyphs and numbers only when narrow.
	for _, short := range []bool{false, true} {
		var b strings.Builder
		for _, g := range l.orderedGroups() {
			b.WriteString("   ")
			if l.group == "status" {
				st := statusOf(g.Value)
				label := statusGlyph(st) + " " + statusWord(st)
				if short {
					label = statusGlyph(st)
				}
				b.WriteString(m.st.Status(st).Render(label) + " " + thousands(g.Count))
				continue
			}
			v := waitingWord(g.Value, 0)
			if v == "" {
				v = "none"
			}
			b.WriteString(v + " " + thousands(g.Count))
		}
		line := head + b.String() + tail
		if ansiWidth(line) <= m.w || short {
			return line
		}
	}
	return head + tail
}

// orderedGroups lists status counts in the usual status order (the index
// orders them by size, which moves them around as counts change).
func (l *runList) orderedGroups() []searchapi.Group {
	if l.group != "status" {
		return l.counts.Groups
	}
	out := make([]searchapi.Group, 0, len(l.counts.Groups))
	for _, st := range allStatuses {
		for _, g := range l.counts.Groups {
			if statusOf(g.Value) == st && g.Count > 0 {
				out = append(out, g)
			}
		}
	}
	for _, g := range l.counts.Groups {
		if !slices.Contains(allStatuses, statusOf(g.Value)) {
			out = append(out, g)
		}
	}
	return out
}

func (l *runList) view(m *Model, w, h int) string {
	rows := max(h-1, 1)
	offset := min(max(l.offset, l.cursor-rows+1), l.cursor) // the cursor is always on screen
	l.measure(offset, rows)
	cols, widths := l.layout(w)
	var b strings.Builder
	b.WriteString(l.headerRow(m, cols, widths))
	if l.err != nil && !l.win.known {
		b.WriteString("\n" + m.st.Error.Render(fit("  search failed: "+errorText(l.err), w)))
		return b.String()
	}
	if l.win.known && l.win.total == 0 {
		b.WriteString("\n" + m.st.Dim.Render(fit("  no executions match"+l.crumbQuery(), w)))
		return b.String()
	}
	cx := cellCtx{st: &m.st, now: m.now(), idle: m.idle}
	for i := 0; i < rows; i++ {
		r := offset + i
		if l.win.known && r >= l.win.total {
			break
		}
		b.WriteByte('\n')
		d, ok := l.win.row(r)
		if !ok {
			b.WriteString(m.st.Dim.Render(fit("  …", w)))
			continue
		}
		b.WriteString(l.renderRow(m, cx, cols, widths, d, r == l.cursor))
	}
	return b.String()
}

// measure grows the columns' wants to the rows on screen.
func (l *runList) measure(offset, rows int) {
	docs := make([]*searchapi.Doc, 0, rows)
	for r := offset; r < offset+rows; r++ {
		if d, ok := l.win.row(r); ok {
			docs = append(docs, d)
		}
	}
	l.wants = wantWidths(l.cols, l.wants, docs)
}

// layout is the list's columns at width w; the sorted column is never
// dropped, so the arrow saying how rows are ordered stays in sight.
func (l *runList) layout(w int) ([]column, []int) {
	return layout(l.cols, w, l.wants, l.sortBy)
}

// sortArrow says which way the values shown run down the column: ▲ small
// to large, ▼ large to small. A column showing its field the other way
// round (AGE of start_time) flips it.
func sortArrow(desc, inverse bool) string {
	if desc != inverse {
		return "▼"
	}
	return "▲"
}

func (l *runList) headerRow(m *Model, cols []column, widths []int) string {
	var b strings.Builder
	b.WriteString("  ")
	sorted := l.cols[l.sortBy].title
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(' ')
		}
		t := c.title
		st := m.st.ColHeader
		if c.title == sorted {
			t += sortArrow(l.desc, c.inverse)
			st = m.st.ColSorted
		}
		if c.right {
			b.WriteString(st.Render(fitRight(t, widths[i])))
		} else {
			b.WriteString(st.Render(fit(t, widths[i])))
		}
	}
	return b.String()
}

func (l *runList) renderRow(m *Model, cx cellCtx, cols []column, widths []int, d *searchapi.Doc, sel bool) string {
	var b strings.Builder
	cx.plain = sel
	gutter := "  "
	_, marked := l.marks[d.RunID]
	switch {
	case sel && marked:
		gutter = "▶*"
	case sel:
		gutter = "▶ "
	case marked:
		gutter = " *"
	}
	if marked && !sel {
		b.WriteString(m.st.Marked.Render(gutter))
	} else {
		b.WriteString(gutter)
	}
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c.cell(cx, d, widths[i]))
	}
	if sel {
		return m.st.Selected.Render(b.String())
	}
	return b.String()
}

// mouse: a click selects a row or sorts by a column; the wheel scrolls.
func (l *runList) mouse(m *Model, msg tea.MouseMsg, bodyTop int) tea.Cmd {
	ms := msg.Mouse()
	switch msg.(type) {
	case tea.MouseWheelMsg:
		switch ms.Button {
		case tea.MouseWheelUp:
			return l.moveTo(m, l.cursor-3)
		case tea.MouseWheelDown:
			return l.moveTo(m, l.cursor+3)
		}
	case tea.MouseClickMsg:
		if ms.Button != tea.MouseLeft {
			return nil
		}
		y := ms.Y - bodyTop
		if y == 0 {
			cols, widths := l.layout(m.w)
			x := 2
			for i, c := range cols {
				if ms.X >= x && ms.X < x+widths[i] && c.field != "" {
					for j := range l.cols {
						if l.cols[j].title == c.title {
							if l.sortBy == j {
								return l.setSort(m, j, !l.desc)
							}
							return l.setSort(m, j, !l.cols[j].asc) // as its digit key does
						}
					}
				}
				x += widths[i] + 1
			}
			return nil
		}
		if y > 0 {
			r := l.offset + y - 1
			if r == l.cursor {
				if d, ok := l.selected(); ok {
					return m.push(newDetail(m, d.WorkflowID, d.RunID))
				}
			}
			return l.moveTo(m, r)
		}
	}
	return nil
}
