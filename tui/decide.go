package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// decideDialog approves or rejects a pending approval with a comment: `a`
// (or `r`), type a comment if you like, Enter. A decision over several runs
// asks to type their count first.
type decideDialog struct {
	kind     actionKind
	s        scope
	choices  []engine.PendingApproval // one run with several approvals: pick one
	choice   int
	name     lineEdit // several runs without known approvals: which one
	askName  bool
	comment  lineEdit
	typed    typedConfirm
	focus    int
	err      string
	identity string
}

func newDecideDialog(m *Model, kind actionKind, s scope) (*decideDialog, tea.Cmd) {
	d := &decideDialog{kind: kind, s: s, typed: confirmFor(kind, s), identity: m.opts.Identity}
	named := !s.all
	for _, t := range s.targets {
		if t.Approval == "" {
			named = false
		}
	}
	switch {
	case named:
	case !s.all && len(s.targets) == 1:
		if len(s.approvals) == 0 {
			return nil, m.flashErr("%s has no pending approval", s.targets[0].WorkflowID)
		}
		d.choices = s.approvals
		d.s.targets = []target{{WorkflowID: s.targets[0].WorkflowID, RunID: s.targets[0].RunID, Approval: s.approvals[0].Name}}
	default:
		d.askName = true
	}
	return d, nil
}

// stops lists the focusable parts in order.
func (d *decideDialog) stops() []string {
	var s []string
	if d.askName {
		s = append(s, "name")
	}
	s = append(s, "comment")
	if d.typed.required() {
		s = append(s, "typed")
	}
	return s
}

func (d *decideDialog) at() string { return d.stops()[d.focus] }

func (d *decideDialog) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	stops := d.stops()
	switch k.String() {
	case "esc":
		m.closeModal()
		return nil
	case "tab", "shift+tab":
		d.focus, _ = focusRing(k, d.focus, len(stops))
		return nil
	case "enter":
		if d.focus < len(stops)-1 {
			d.focus++
			return nil
		}
		return d.submit(m)
	case "up", "down":
		// Several approvals pending on the run: the arrows pick one while
		// the comment is typed.
		if len(d.choices) > 1 {
			if k.String() == "up" {
				d.pick(d.choice - 1)
			} else {
				d.pick(d.choice + 1)
			}
		}
		return nil
	}
	if f, typed := d.field(); f != nil {
		f.handle(k)
		if typed {
			d.err = ""
		}
	}
	return nil
}

// field is the editor under the focus, and whether it is the typed
// confirmation; nil on a button.
func (d *decideDialog) field() (f *lineEdit, typed bool) {
	switch d.at() {
	case "name":
		return &d.name, false
	case "comment":
		return &d.comment, false
	case "typed":
		return &d.typed.in, true
	}
	return nil, false
}

func (d *decideDialog) pick(i int) {
	d.choice = min(max(i, 0), len(d.choices)-1)
	d.s.targets[0].Approval = d.choices[d.choice].Name
}

func (d *decideDialog) paste(s string) {
	if f, _ := d.field(); f != nil {
		f.insert(s)
	}
}

func (d *decideDialog) submit(m *Model) tea.Cmd {
	a := action{kind: d.kind, scope: d.s, reason: strings.TrimSpace(d.comment.value())}
	if d.askName {
		n := strings.TrimSpace(d.name.value())
		if n == "" {
			d.err = "name the approval to decide"
			return nil
		}
		a.scope.targets = nil
		for _, t := range d.s.targets {
			t.Approval = n
			a.scope.targets = append(a.scope.targets, t)
		}
		a.approval = n
	}
	if !d.typed.ok() {
		d.err = "that does not match: " + d.typed.label()
		return nil
	}
	return m.dispatch(a)
}

func (d *decideDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	verb := "Approve"
	if d.kind == actReject {
		verb = "Reject"
	}
	var parts []string
	parts = append(parts, scopeLines(st, d.s, iw))
	if len(d.choices) > 0 {
		var b strings.Builder
		for i, a := range d.choices {
			mark := "  "
			if i == d.choice {
				mark = "▶ "
			}
			line := fmt.Sprintf("%s%s  requested %s ago", mark, a.Name, compactDuration(m.now().Sub(a.RequestedAt)))
			if i == d.choice && len(d.choices) > 1 {
				line = st.Selected.Render(fit(line, iw))
			}
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(line)
			if i == d.choice {
				if a.Description != "" {
					b.WriteString("\n    " + fit(oneLine(a.Description), iw-4))
				}
				if len(a.Approvers) > 0 {
					b.WriteString("\n    " + st.Dim.Render("approvers: "+strings.Join(a.Approvers, ", ")))
				}
			}
		}
		parts = append(parts, b.String())
	}
	if d.askName {
		parts = append(parts, field(st, "Approval name (decided on every run that has it pending)", &d.name, iw, d.at() == "name"))
	}
	parts = append(parts, field(st, "Comment (optional, recorded in history)", &d.comment, iw, d.at() == "comment"))
	if d.typed.required() {
		parts = append(parts, field(st, d.typed.label(), &d.typed.in, iw, d.at() == "typed"))
	}
	if d.err != "" {
		parts = append(parts, wrapText(st.Error, d.err, iw))
	}
	as := ""
	if d.identity != "" {
		as = " as " + d.identity
	}
	hint := "enter " + strings.ToLower(verb) + as + " · esc close"
	if len(d.choices) > 1 {
		hint = "↑/↓ choose · " + hint
	}
	parts = append(parts, st.Dim.Render(hint))
	title := verb
	if n := d.s.size(); n > 1 || d.s.all {
		title += " " + thousands(n) + " " + d.s.noun() + "?"
	}
	return dialogBox(st, title, parts, iw, h, d.typed.required())
}
