package tui

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"

	"github.com/foremanhq/foreman/operator"
)

// keyMap is every binding of the console. The footer and the ? help are
// generated from it, so what is shown is what works; a write binding whose
// action the console's operator.Actions refuse (read-only mode) is
// disabled, which both hides it and stops it matching.
type keyMap struct {
	Up, Down, Top, Bottom, PageUp, PageDown, HalfUp, HalfDown key.Binding

	Open, Back, Quit, Help, Palette, Search, Refresh key.Binding

	Mark, Unmark, ScopeAll, SortNext, SortReverse key.Binding

	NextTab, PrevTab, Expand, NextMatch, PrevMatch, Copy, CopyJSON key.Binding

	Query key.Binding

	// Child workflows (children.go): the family tree, hiding children.
	Tree, HideChildren key.Binding

	// Writes, in actionKind order (writes()): disabled when refused.
	Signal, Approve, Reject, Cancel, Terminate, Reset, Compensate, Update key.Binding
}

func newKeyMap(acts operator.Actions) keyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	k := keyMap{
		Up:       b([]string{"k", "up"}, "↑/k", "up"),
		Down:     b([]string{"j", "down"}, "↓/j", "down"),
		Top:      b([]string{"g", "home"}, "g", "first"),
		Bottom:   b([]string{"G", "end"}, "G", "last"),
		PageUp:   b([]string{"pgup", "ctrl+b"}, "ctrl+b", "page up"),
		PageDown: b([]string{"pgdown", "ctrl+f"}, "ctrl+f", "page down"),
		HalfUp:   b([]string{"ctrl+u"}, "ctrl+u", "half page up"),
		HalfDown: b([]string{"ctrl+d"}, "ctrl+d", "half page down"),

		Open:    b([]string{"enter"}, "enter", "open"),
		Back:    b([]string{"esc"}, "esc", "back"),
		Quit:    b([]string{"ctrl+c", "q"}, "q", "quit"),
		Help:    b([]string{"?"}, "?", "help"),
		Palette: b([]string{":"}, ":", "command"),
		Search:  b([]string{"/"}, "/", "search"),
		Refresh: b([]string{"ctrl+r"}, "ctrl+r", "refresh"),

		Mark:        b([]string{"space"}, "space", "mark"),
		Unmark:      b([]string{"U"}, "U", "clear marks"),
		ScopeAll:    b([]string{"*"}, "*", "act on all matches"),
		SortNext:    b([]string{"o"}, "o", "sort column"),
		SortReverse: b([]string{"O"}, "O", "sort order"),

		NextTab:   b([]string{"tab", "l", "right"}, "tab/l", "next tab"),
		PrevTab:   b([]string{"shift+tab", "h", "left"}, "S-tab/h", "previous tab"),
		Expand:    b([]string{"enter", "space"}, "enter", "expand JSON"),
		NextMatch: b([]string{"n"}, "n", "next match"),
		PrevMatch: b([]string{"N"}, "N", "previous match"),
		Copy:      b([]string{"y"}, "y", "copy id"),
		CopyJSON:  b([]string{"Y"}, "Y", "copy JSON"),

		Query: b([]string{"Q"}, "Q", "query"),

		Tree:         b([]string{"t"}, "t", "parent/children tree"),
		HideChildren: b([]string{"H"}, "H", "hide/show child runs"),

		Signal:     b([]string{"s"}, "s", "signal"),
		Approve:    b([]string{"a"}, "a", "approve"),
		Reject:     b([]string{"r"}, "r", "reject"),
		Cancel:     b([]string{"C"}, "C", "cancel"),
		Terminate:  b([]string{"T"}, "T", "terminate"),
		Reset:      b([]string{"R"}, "R", "reset"),
		Compensate: b([]string{"P"}, "P", "compensate"),
		Update:     b([]string{"u"}, "u", "update"),
	}
	for i, w := range k.writes() {
		// the help names the catalog action the key performs
		kind := actSignal + actionKind(i)
		w.SetHelp(w.Help().Key, kind.name())
		if kind.writes() && errors.Is(acts.Check(operator.Request{Action: kind.name()}), operator.ErrReadOnly) {
			w.SetEnabled(false)
		}
	}
	return k
}

// writes are the bindings that change executions.
func (k *keyMap) writes() []*key.Binding {
	return []*key.Binding{&k.Signal, &k.Approve, &k.Reject, &k.Cancel, &k.Terminate, &k.Reset, &k.Compensate, &k.Update}
}

// helpGroup is a titled group of bindings in the ? help.
type helpGroup struct {
	title string
	keys  []key.Binding
}

func (k keyMap) navGroup() helpGroup {
	return helpGroup{"Move", []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown, k.HalfUp, k.HalfDown}}
}

func (k keyMap) actionGroup() helpGroup {
	return helpGroup{"Act", []key.Binding{k.Approve, k.Reject, k.Signal, k.Query, k.Cancel, k.Terminate, k.Reset, k.Compensate, k.Update}}
}

func (k keyMap) globalGroup() helpGroup {
	return helpGroup{"Console", []key.Binding{k.Search, k.Palette, k.Back, k.Copy, k.CopyJSON, k.Refresh, k.Help, k.Quit}}
}

// renderHelp lays the groups out in columns, in rows of columns that fit
// width; compact leaves no blank line between rows (short terminals).
func renderHelp(st *Styles, groups []helpGroup, width int, compact bool) string {
	var cols []string
	for _, g := range groups {
		var b strings.Builder
		b.WriteString(st.Title.Render(g.title))
		for _, k := range g.keys {
			if !k.Enabled() || k.Help().Key == "" {
				continue
			}
			b.WriteString("\n" + st.Key.Render(fit(k.Help().Key, 8)) + " " + st.Desc.Render(k.Help().Desc))
		}
		cols = append(cols, b.String())
	}
	// Wrap columns into rows of columns that fit the width.
	var rows []string
	var row []string
	used := 0
	for _, c := range cols {
		w := lipgloss.Width(c) + 3
		if used+w > width && len(row) > 0 {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, used = nil, 0
		}
		row = append(row, lipgloss.NewStyle().PaddingRight(3).Render(c))
		used += w
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	if compact {
		return strings.Join(rows, "\n")
	}
	return strings.Join(rows, "\n\n")
}

// shortHelp renders a one-line hint of bindings for the footer.
func shortHelp(st *Styles, keys []key.Binding, width int) string {
	var parts []string
	used := 0
	for _, k := range keys {
		if !k.Enabled() {
			continue
		}
		p := st.Key.Render(k.Help().Key) + " " + st.Desc.Render(k.Help().Desc)
		w := lipgloss.Width(p) + 2
		if used+w > width {
			break
		}
		parts = append(parts, p)
		used += w
	}
	return strings.Join(parts, "  ")
}
