package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// resetDialog resets a run to an event chosen on its timeline (or "first",
// "last-good"). It shows a dry-run preview of what is kept and dropped, and
// runs only after the preview of exactly that point was shown and the
// workflow id was typed.
type resetDialog struct {
	id      int
	t       target
	to      lineEdit
	events  []engine.Event // the run's history when known, to name dropped events
	reapply bool
	reason  lineEdit
	typed   typedConfirm
	focus   int // 0 to, 1 reapply, 2 reason, 3 typed

	prev    *ResetPreview
	prevTo  string
	prevErr error
	loading bool
	err     string
}

func newResetDialog(m *Model, t target, to string, events []engine.Event) *resetDialog {
	return &resetDialog{id: m.id(), t: t, to: newLineEdit(to), events: events, reapply: true,
		typed: typedConfirm{need: t.WorkflowID}, focus: 2}
}

func (d *resetDialog) mid() int { return d.id }

// preview asks for a dry run of the reset to the current point.
func (d *resetDialog) preview(m *Model) tea.Cmd {
	to := strings.TrimSpace(d.to.value())
	d.loading, d.prev, d.prevErr, d.prevTo = true, nil, nil, ""
	b, ctx, timeout, t, reapply, id := m.acts, m.ctx, m.opts.RequestTimeout, d.t, d.reapply, d.id
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := previewReset(c, b, t, to, reapply)
		return previewMsg{addr: addr{id}, to: to, res: res, err: err}
	}
}

func (d *resetDialog) receive(m *Model, msg tea.Msg) tea.Cmd {
	if p, ok := msg.(previewMsg); ok && p.to == strings.TrimSpace(d.to.value()) {
		d.loading = false
		if p.err != nil {
			d.prevErr = p.err
			return nil
		}
		d.prev, d.prevTo = &p.res, p.to
	}
	return nil
}

func (d *resetDialog) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.closeModal()
		return nil
	case "tab", "shift+tab":
		d.focus, _ = focusRing(k, d.focus, 4)
		return nil
	}
	switch d.focus {
	case 0:
		if k.String() == "enter" {
			d.focus = 2
			return d.preview(m)
		}
		d.to.handle(k)
	case 1:
		switch k.String() {
		case "space", "x", "enter":
			d.reapply = !d.reapply
			return d.preview(m)
		}
	case 2:
		if k.String() == "enter" {
			d.focus = 3
			return nil
		}
		d.reason.handle(k)
	case 3:
		if k.String() == "enter" {
			return d.submit(m)
		}
		d.typed.in.handle(k)
		d.err = ""
	}
	return nil
}

func (d *resetDialog) paste(s string) {
	switch d.focus {
	case 0:
		d.to.insert(s)
	case 2:
		d.reason.insert(s)
	case 3:
		d.typed.in.insert(s)
	}
}

func (d *resetDialog) submit(m *Model) tea.Cmd {
	to := strings.TrimSpace(d.to.value())
	switch {
	case d.prev == nil || d.prevTo != to:
		d.err = "press enter on the reset point to preview it first"
		return nil
	case !d.typed.ok():
		d.err = "that does not match: " + d.typed.label()
		return nil
	}
	return m.dispatch(action{kind: actReset, scope: scope{targets: []target{d.t}}, resetTo: to, reapply: d.reapply,
		reason: strings.TrimSpace(d.reason.value())})
}

func (d *resetDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	parts := []string{scopeLines(st, scope{targets: []target{d.t}}, iw),
		field(st, "Reset to (event id, first, last-good) — enter previews", &d.to, iw, d.focus == 0)}
	check := "[ ]"
	if d.reapply {
		check = "[x]"
	}
	mark := "  "
	if d.focus == 1 {
		mark = "▸ "
	}
	parts = append(parts, mark+check+" re-apply signals received after that point (space toggles)")
	switch {
	case d.loading:
		parts = append(parts, st.Dim.Render("previewing…"))
	case d.prevErr != nil:
		parts = append(parts, wrapText(st.Error, "preview: "+errorText(d.prevErr), iw))
	case d.prev != nil:
		parts = append(parts, d.previewText(st, iw))
	}
	parts = append(parts, field(st, "Reason (recorded in history)", &d.reason, iw, d.focus == 2),
		field(st, d.typed.label(), &d.typed.in, iw, d.focus == 3))
	if d.err != "" {
		parts = append(parts, wrapText(st.Error, d.err, iw))
	}
	parts = append(parts, st.Dim.Render("the old run closes as reset · enter on the last field resets · esc close"))
	return dialogBox(st, "Reset this run?", parts, iw, h, true)
}

func (d *resetDialog) previewText(st *Styles, width int) string {
	p := d.prev
	var b strings.Builder
	fmt.Fprintf(&b, "%s keeps %s events%s\n", st.OK.Render("✓"), thousands(len(p.Kept)), idRange(p.Kept))
	fmt.Fprintf(&b, "%s drops %s events%s", st.Fail.Render("✗"), thousands(len(p.Dropped)), idRange(p.Dropped))
	if s := d.describe(p.Dropped); s != "" {
		b.WriteString("\n  " + fit(s, width-2))
	}
	if len(p.Reapplied) > 0 {
		fmt.Fprintf(&b, "\n%s re-applies %d signal(s)", st.Info.Render("↻"), len(p.Reapplied))
	}
	return b.String()
}

// describe names the dropped events by type: "ActivityScheduled ×2, ...".
func (d *resetDialog) describe(ids []int64) string {
	if len(d.events) == 0 || len(ids) == 0 {
		return ""
	}
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	counts := map[engine.EventType]int{}
	var order []engine.EventType
	for _, e := range d.events {
		if want[e.ID] {
			if counts[e.Type] == 0 {
				order = append(order, e.Type)
			}
			counts[e.Type]++
		}
	}
	parts := make([]string, 0, len(order))
	for _, t := range order {
		if counts[t] > 1 {
			parts = append(parts, fmt.Sprintf("%s ×%d", t, counts[t]))
		} else {
			parts = append(parts, string(t))
		}
	}
	return strings.Join(parts, ", ")
}

// idRange renders ids as " (3–9)" when contiguous, " (3, 5, 9)" otherwise.
func idRange(ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	s := append([]int64(nil), ids...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if s[len(s)-1]-s[0] == int64(len(s)-1) {
		if len(s) == 1 {
			return fmt.Sprintf(" (#%d)", s[0])
		}
		return fmt.Sprintf(" (#%d–#%d)", s[0], s[len(s)-1])
	}
	parts := make([]string, 0, 6)
	for i, id := range s {
		if i == 5 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("#%d", id))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
