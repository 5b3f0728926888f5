package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
)

// confirmDialog confirms cancel and terminate (on one run, marked runs or
// every match). It opens on the reason; Tab walks reason, typed
// confirmation, No and the action's button; ←/→ switch between the two
// buttons and only Enter on the action's button acts: no letter key fires
// the action, so words typed into the wrong place never do.
type confirmDialog struct {
	a      action
	reason lineEdit
	typed  typedConfirm
	focus  int  // 0 reason, 1 typed confirmation (if required), then No, then the action
	yes    bool // the action's button is focused
	err    string
}

func newConfirmDialog(m *Model, a action) *confirmDialog {
	return &confirmDialog{a: a, typed: confirmFor(a.kind, a.scope)}
}

// stops counts the focusable parts: reason, typed confirmation, No, action.
func (d *confirmDialog) stops() int {
	if d.typed.required() {
		return 4
	}
	return 3
}

func (d *confirmDialog) noStop() int     { return d.stops() - 2 }
func (d *confirmDialog) onButtons() bool { return d.focus >= d.noStop() }

func (d *confirmDialog) setFocus(f int) {
	d.focus = f
	d.yes = f == d.stops()-1
}

func (d *confirmDialog) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "esc" {
		m.closeModal()
		return nil
	}
	if f, ok := focusRing(k, d.focus, d.stops()); ok {
		d.setFocus(f)
		return nil
	}
	if d.onButtons() {
		switch k.String() {
		case "left", "right", "h", "l":
			d.setFocus(d.noStop() + (1 - (d.focus - d.noStop())))
		case "enter":
			if !d.yes {
				m.closeModal()
				return nil
			}
			return d.submit(m)
		}
		return nil
	}
	if k.String() == "enter" {
		if d.focus == 1 && d.typed.required() {
			return d.submit(m)
		}
		d.setFocus(d.focus + 1)
		return nil
	}
	editReasonOrTyped(d.focus, &d.reason, &d.typed, &d.err, k)
	return nil
}

// editReasonOrTyped sends a key to the reason (focus 0) or to the typed
// confirmation, whose error it clears: the two dialogs that ask both.
func editReasonOrTyped(focus int, reason *lineEdit, typed *typedConfirm, errText *string, k tea.KeyPressMsg) {
	if focus == 0 {
		reason.handle(k)
		return
	}
	typed.in.handle(k)
	*errText = ""
}

func (d *confirmDialog) paste(s string) {
	if d.focus == 0 {
		d.reason.insert(s)
	} else if d.focus == 1 && d.typed.required() {
		d.typed.in.insert(s)
	}
}

func (d *confirmDialog) submit(m *Model) tea.Cmd {
	if !d.typed.ok() {
		d.err = "that does not match: " + d.typed.label()
		d.setFocus(1)
		return nil
	}
	a, err := d.a.withReasonField(strings.TrimSpace(d.reason.value()))
	if err != nil {
		d.err = err.Error()
		d.setFocus(0)
		return nil
	}
	return m.dispatch(a)
}

func (d *confirmDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	var what string
	switch d.a.kind {
	case actCancel:
		what = "Asks the workflow to cancel: its code decides how to end, and cleanup may still run."
	case actTerminate:
		what = "Closes the run at once: no workflow code runs, no cleanup, no compensation."
	default:
		what = activityWhat(d.a)
	}
	parts := []string{scopeLines(st, d.a.scope, iw), st.Dim.Render(what),
		field(st, reasonLabel(d.a.kind), &d.reason, iw, d.focus == 0)}
	if d.typed.required() {
		parts = append(parts, field(st, d.typed.label(), &d.typed.in, iw, d.focus == 1))
	}
	if d.err != "" {
		parts = append(parts, wrapText(st.Error, d.err, iw))
	}
	verb := strings.ToUpper(d.a.kind.verb()[:1]) + d.a.kind.verb()[1:]
	label, title := verb+" run", verb+" this run?"
	if d.a.scope.size() > 1 || d.a.scope.all {
		label = verb + " " + thousands(d.a.scope.size()) + " " + d.a.scope.noun()
		title = label + "?"
	}
	parts = append(parts, buttons(st, d.onButtons(), d.yes, label)+
		st.Dim.Render("   tab/←/→ move · enter choose · esc close"))
	return dialogBox(st, title, parts, iw, h, d.a.kind.destructive() || d.typed.required())
}
