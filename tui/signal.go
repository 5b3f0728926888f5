package tui

import (
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// signalDialog sends a named signal with a JSON payload. The payload is
// validated before anything is sent, and the error names line and column.
type signalDialog struct {
	s       scope
	name    lineEdit
	known   []string // signal names seen on the run, offered by tab
	payload textEdit
	typed   typedConfirm
	focus   int // 0 name, 1 payload, 2 typed
	err     string
}

func newSignalDialog(m *Model, s scope) *signalDialog {
	d := &signalDialog{s: s, payload: newTextEdit("{\n  \n}"), typed: confirmFor(actSignal, s)}
	d.payload.moveTo(1, 2)
	if det, ok := m.top().(*detailScreen); ok && det.x != nil {
		for _, n := range det.x.Signals {
			if !slices.Contains(d.known, n) {
				d.known = append(d.known, n)
			}
		}
	}
	return d
}

func (d *signalDialog) stops() int {
	if d.typed.required() {
		return 3
	}
	return 2
}

func (d *signalDialog) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.closeModal()
		return nil
	case "ctrl+s", "alt+enter":
		return d.submit(m)
	case "shift+tab":
		d.focus = (d.focus + d.stops() - 1) % d.stops()
		return nil
	}
	switch d.focus {
	case 0:
		switch k.String() {
		case "tab":
			if c := d.complete(); c != "" && c != d.name.value() {
				d.name.set(c)
				return nil
			}
			d.focus = 1
		case "enter", "down":
			d.focus = 1
		default:
			d.name.handle(k)
		}
	case 1:
		if k.String() == "tab" {
			d.focus = (d.focus + 1) % d.stops()
			return nil
		}
		d.payload.handle(k)
		d.err = ""
	case 2:
		switch k.String() {
		case "enter":
			return d.submit(m)
		case "tab":
			d.focus = 0
		default:
			d.typed.in.handle(k)
		}
	}
	return nil
}

// complete returns the known signal name the typed prefix selects.
func (d *signalDialog) complete() string {
	p := d.name.value()
	for _, n := range d.known {
		if strings.HasPrefix(n, p) {
			return n
		}
	}
	return ""
}

func (d *signalDialog) paste(s string) {
	switch d.focus {
	case 0:
		d.name.insert(s)
	case 1:
		d.payload.insert(s)
	case 2:
		d.typed.in.insert(s)
	}
}

func (d *signalDialog) submit(m *Model) tea.Cmd {
	name := strings.TrimSpace(d.name.value())
	if name == "" {
		d.err, d.focus = "a signal name is required", 0
		return nil
	}
	payload, err := validJSON(d.payload.value())
	if err != nil {
		d.err, d.focus = err.Error(), 1
		return nil
	}
	if !d.typed.ok() {
		d.err, d.focus = "that does not match: "+d.typed.label(), 2
		return nil
	}
	return m.dispatch(action{kind: actSignal, scope: d.s, signal: name, payload: payload})
}

func (d *signalDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	edH := max(min(h-18, 10), 3)
	parts := []string{scopeLines(st, d.s, iw), field(st, "Signal name", &d.name, iw, d.focus == 0)}
	if len(d.known) > 0 {
		parts[1] += "\n  " + st.Dim.Render("seen on this run: "+strings.Join(d.known, ", "))
	}
	mark := "  "
	if d.focus == 1 {
		mark = "▸ "
	}
	parts = append(parts, mark+st.Bold.Render("Payload (JSON)")+"\n"+d.payload.view(st, iw, edH, d.focus == 1))
	if d.typed.required() {
		parts = append(parts, field(st, d.typed.label(), &d.typed.in, iw, d.focus == 2))
	}
	if d.err != "" {
		parts = append(parts, wrapText(st.Error, d.err, iw))
	}
	parts = append(parts, st.Dim.Render("ctrl+s send · tab/shift+tab move · esc close"))
	title := "Signal"
	if n := d.s.size(); n > 1 || d.s.all {
		title += " " + thousands(n) + " " + d.s.noun()
	}
	return dialogBox(st, title, parts, iw, h, d.typed.required())
}
