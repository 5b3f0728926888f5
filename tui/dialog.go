package tui

import (
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Shared pieces of the action dialogs: the frame, the No/Yes buttons
// (No is the default), the field that asks to type the id, and the
// description of what an action will touch.

// dialogWidth is the inner width of dialogs for a terminal w cells wide.
func dialogWidth(w int) int { return min(max(w-10, 50), 96) }

// dialogBox frames a dialog; on short terminals the parts are not
// separated by blank lines, so dialogs fit in 24 rows.
func dialogBox(st *Styles, title string, parts []string, width, height int, danger bool) string {
	box := st.Dialog
	if danger {
		box = st.DangerBox
	}
	sep := "\n\n"
	if height < 40 {
		sep = "\n"
	}
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return box.Width(width + 4).Render(st.Title.Render(title) + sep + strings.Join(keep, sep))
}

// wrapText wraps s to width cells (dialog errors and notes).
func wrapText(style lipgloss.Style, s string, width int) string {
	return style.Width(width).Render(s)
}

// buttons renders [No] [Yes]; the focused one is reversed.
func buttons(st *Styles, focused, yes bool, yesLabel string) string {
	no, ok := st.Button, st.Button
	if focused && !yes {
		no = st.ButtonOn
	}
	if focused && yes {
		ok = st.ButtonOn
	}
	return no.Render("No") + "  " + ok.Render(yesLabel)
}

// field renders a labelled line editor.
func field(st *Styles, label string, e *lineEdit, width int, focused bool) string {
	mark := "  "
	if focused {
		mark = "▸ "
	}
	return mark + st.Bold.Render(label) + "\n  " + e.view(st, width-2, focused)
}

// typedConfirm asks the operator to type something exact (a workflow id, a
// count) before a destructive or batch action runs.
type typedConfirm struct {
	need string
	noun string // what a typed count counts
	in   lineEdit
}

// confirmFor says what must be typed for an action on s: the count for
// batches, the workflow id for destructive actions on one run, nothing
// otherwise.
func confirmFor(kind actionKind, s scope) typedConfirm {
	switch {
	case s.all || len(s.targets) > 1:
		return typedConfirm{need: strconv.Itoa(s.size()), noun: s.noun()}
	case kind.destructive():
		return typedConfirm{need: s.targets[0].WorkflowID}
	}
	return typedConfirm{}
}

func (c *typedConfirm) required() bool { return c.need != "" }
func (c *typedConfirm) ok() bool       { return !c.required() || c.in.value() == c.need }

func (c *typedConfirm) label() string {
	if _, err := strconv.Atoi(c.need); err == nil {
		return fmt.Sprintf("Type the number of %s (%s) to confirm", c.noun, c.need)
	}
	return fmt.Sprintf("Type the workflow id %q to confirm", c.need)
}

// scopeLines describes the runs an action will touch, captured when the
// dialog opened.
func scopeLines(st *Styles, s scope, width int) string {
	switch {
	case s.all:
		return fmt.Sprintf("%s runs: every match of %s", st.Bold.Render(thousands(s.count)), fit(s.label, width-30))
	case len(s.targets) == 1:
		t := s.targets[0]
		out := st.Dim.Render("workflow ") + st.Bold.Render(t.WorkflowID) + "\n" + st.Dim.Render("run      ") + t.RunID
		if t.Approval != "" {
			out += "\n" + st.Dim.Render("approval ") + t.Approval
		}
		return out
	}
	var b strings.Builder
	b.WriteString(st.Bold.Render(thousands(len(s.targets))) + " marked " + s.noun() + ":")
	for i, t := range s.targets {
		if i == 4 {
			b.WriteString(fmt.Sprintf("\n  … and %d more", len(s.targets)-4))
			break
		}
		line := "  " + t.WorkflowID + " " + st.Dim.Render(shortID(t.RunID))
		if t.Approval != "" {
			line += " " + t.Approval
		}
		b.WriteString("\n" + fit(line, width))
	}
	return b.String()
}

// focusRing moves focus among n stops.
func focusRing(k tea.KeyPressMsg, focus, n int) (int, bool) {
	switch k.String() {
	case "tab", "down":
		return (focus + 1) % n, true
	case "shift+tab", "up":
		return (focus + n - 1) % n, true
	}
	return focus, false
}
