package tui

import (
	"errors"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// searchable is a screen the query bar can search.
type searchable interface {
	currentQuery() string
	tryQuery(m *Model, q string) tea.Cmd
}

// queryBar is the `/` search: either dialect, Up/Down through past
// searches, and an error pointing at the offending position. The screen
// keeps its rows until the index accepts the new query.
type queryBar struct {
	target  searchable
	in      lineEdit
	histIdx int // -1: the line being typed
	draft   string
	err     error
	busy    bool
}

func newQueryBar(m *Model, t searchable) *queryBar {
	return &queryBar{target: t, in: newLineEdit(t.currentQuery()), histIdx: -1}
}

func (q *queryBar) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.closeModal()
		return nil
	case "enter":
		text := strings.TrimSpace(q.in.value())
		q.err, q.busy = nil, true
		return q.target.tryQuery(m, text)
	case "up", "ctrl+p":
		if s, ok := m.hist.at(q.histIdx + 1); ok {
			if q.histIdx == -1 {
				q.draft = q.in.value()
			}
			q.histIdx++
			q.in.set(s)
		}
		return nil
	case "down", "ctrl+n":
		switch {
		case q.histIdx > 0:
			q.histIdx--
			s, _ := m.hist.at(q.histIdx)
			q.in.set(s)
		case q.histIdx == 0:
			q.histIdx = -1
			q.in.set(q.draft)
		}
		return nil
	}
	if q.in.handle(k) {
		q.err = nil
	}
	return nil
}

func (q *queryBar) paste(s string) { q.in.insert(s); q.err = nil }

// setError shows why the index refused the query.
func (q *queryBar) setError(err error) { q.err, q.busy = err, false }

// lines renders the bar, and under it the error with a caret at the
// offending position when the index gave one.
func (q *queryBar) lines(m *Model, w int) []string {
	st := &m.st
	prompt := st.Key.Render("/ ")
	hint := ""
	if q.busy && q.err == nil {
		hint = st.Dim.Render(" searching…")
	}
	out := []string{prompt + q.in.view(st, w-2-ansi.StringWidth(hint), true) + hint}
	if q.err == nil {
		return out
	}
	var ae *searchapi.APIError
	if errors.As(q.err, &ae) && ae.Code == "bad_query" {
		text := q.in.value()
		pos := min(max(ae.Pos, 0), len(text))
		col := 2 + ansi.StringWidth(text[:pos])
		msg := ae.Message
		if ae.Expected != "" {
			msg += " (expected " + ae.Expected + ")"
		}
		switch mw := ansi.StringWidth(msg); {
		case col+2+mw <= w:
			return append(out, st.Error.Render(fit(strings.Repeat(" ", col)+"^ "+msg, w)))
		case mw+2 <= col:
			// The message ends at the caret, on its left.
			return append(out, st.Error.Render(fit(fitRight(msg+" ^", col+1), w)))
		}
		// Too long for either side: caret alone, the message below it.
		return append(out, st.Error.Render(fit(strings.Repeat(" ", col)+"^", w)), st.Error.Render(fit("  "+msg, w)))
	}
	return append(out, st.Error.Render(fit("  ✗ "+errorText(q.err), w)))
}
