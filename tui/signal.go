package tui

import (
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// signalDialog sends a named signal with a JSON payload. The payload is
// validated before anything is sent, and the error names line and column.
type signalDialog struct {
	id      int
	s       scope
	name    lineEdit
	known   []string      // signal names the run listens on, then those seen on it, offered by tab
	seen    []string      // signal names the run received (its history)
	listens handlersState // the names its code listens on (__handlers)
	payload textEdit
	typed   typedConfirm
	focus   int // 0 name, 1 payload, 2 typed
	err     string
}

func newSignalDialog(m *Model, s scope) *signalDialog {
	d := &signalDialog{id: m.id(), s: s, payload: newTextEdit("{\n  \n}"), typed: confirmFor(actSignal, s)}
	d.payload.moveTo(1, 2)
	if det, ok := m.top().(*detailScreen); ok {
		if det.x != nil {
			for _, n := range det.x.Signals {
				if !slices.Contains(d.seen, n) {
					d.seen = append(d.seen, n)
				}
			}
		}
		d.listens = det.handlers
	}
	d.known = addNames(d.seen, d.listens.h.Signals)
	return d
}

func (d *signalDialog) mid() int { return d.id }

// askHandlers asks a worker which signals the one run listens on, unless
// its detail already knew.
func (d *signalDialog) askHandlers(m *Model) tea.Cmd {
	if d.listens.loaded || d.s.all || len(d.s.targets) != 1 {
		return nil
	}
	return d.listens.fetch(m, d.id, d.s.targets[0])
}

func (d *signalDialog) receive(m *Model, msg tea.Msg) tea.Cmd {
	if q, ok := msg.(queryMsg); ok && d.listens.receive(q) {
		d.known = addNames(d.seen, d.listens.h.Signals)
	}
	return nil
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
	name, payload, ok := nameAndJSON(&d.name, &d.payload, "a signal name is required", &d.err, &d.focus)
	if !ok {
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
	parts := []string{scopeLines(st, d.s, iw), nameField(st, "Signal name", &d.name, iw, d.focus == 0, "listens on: ", d.listens.h.Signals, d.listens.note("signal names"))}
	if len(d.seen) > 0 {
		parts[1] += "\n  " + st.Dim.Render(fit("seen on this run: "+strings.Join(d.seen, ", "), iw-2))
	}
	parts = append(parts, jsonField(st, "Payload (JSON)", &d.payload, iw, edH, d.focus == 1))
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
