package tui

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/foremanhq/foreman/engine"
)

// updateDialog sends a named update with a JSON input to one run and
// shows what came back in place: the validator's refusal (the run's
// history is unchanged), or the handler's result. Unlike signal it does
// not close on sending: the answer is the point. The write still goes
// through m.acts (the read-only decorator, the engine's action service).
type updateDialog struct {
	id      int
	s       scope
	name    lineEdit
	listens handlersState // the run's update handlers (__handlers)
	input   textEdit
	focus   int // 0 name, 1 input
	// updateID is kept across sends until one is answered with a result,
	// so a send whose answer was lost is repeated, not run twice.
	updateID string
	sending  bool
	err      string
	result   *engine.UpdateResult
}

// updateDoneMsg is the answer to an update sent from the dialog.
type updateDoneMsg struct {
	addr
	res engine.UpdateResult
	err error
}

func newUpdateDialog(m *Model, s scope) *updateDialog {
	d := &updateDialog{id: m.id(), s: s, input: newTextEdit("{\n  \n}"), updateID: uuid.NewString()}
	d.input.moveTo(1, 2)
	if det, ok := m.top().(*detailScreen); ok {
		d.listens = det.handlers
	}
	return d
}

func (d *updateDialog) mid() int { return d.id }

// askHandlers asks a worker which updates the run answers, unless its
// detail already knew.
func (d *updateDialog) askHandlers(m *Model) tea.Cmd {
	if d.listens.loaded {
		return nil
	}
	return d.listens.fetch(m, d.id, d.s.targets[0])
}

func (d *updateDialog) receive(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case queryMsg:
		d.listens.receive(msg)
	case updateDoneMsg:
		d.sending = false
		if msg.err != nil {
			d.err, d.result = errorText(msg.err), nil
			if msg.res.Failure != nil { // the handler ran and failed: a new send is a new update
				d.updateID = uuid.NewString()
			}
			return nil
		}
		res := msg.res
		d.err, d.result, d.updateID = "", &res, uuid.NewString()
		if det, ok := m.top().(*detailScreen); ok {
			det.acted = true // its history must show the update
		}
		return m.top().refresh(m)
	}
	return nil
}

func (d *updateDialog) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.closeModal()
		return nil
	case "ctrl+s", "alt+enter":
		return d.submit(m)
	case "tab", "shift+tab":
		if d.focus == 0 && k.String() == "tab" {
			if c := d.complete(); c != "" && c != d.name.value() {
				d.name.set(c)
				return nil
			}
		}
		d.focus = 1 - d.focus
		return nil
	}
	if d.focus == 0 {
		switch k.String() {
		case "enter", "down":
			d.focus = 1
		default:
			d.name.handle(k)
		}
		return nil
	}
	d.input.handle(k)
	d.err = ""
	return nil
}

// complete returns the update name the typed prefix selects.
func (d *updateDialog) complete() string {
	p := d.name.value()
	for _, n := range d.listens.h.Updates {
		if strings.HasPrefix(n, p) {
			return n
		}
	}
	return ""
}

func (d *updateDialog) paste(s string) {
	if d.focus == 0 {
		d.name.insert(s)
	} else {
		d.input.insert(s)
	}
}

func (d *updateDialog) submit(m *Model) tea.Cmd {
	if d.sending {
		return nil
	}
	name, input, ok := nameAndJSON(&d.name, &d.input, "an update name is required", &d.err, &d.focus)
	if !ok {
		return nil
	}
	if err := m.refusal(actUpdate); err != nil {
		d.err = "refused: " + errorText(err)
		return nil
	}
	if err := m.offline(); err != nil {
		d.err = err.Error()
		return nil
	}
	a := action{kind: actUpdate, scope: d.s, signal: name, payload: input, updateID: d.updateID}
	t := d.s.targets[0]
	acts, ctx, to, id := m.acts, m.ctx, m.opts.RequestTimeout, d.id
	d.sending, d.err, d.result = true, "", nil
	// the dialog shows that it is sending (no footer spinner: the dialog
	// may be closed before the answer comes, and the answer is dropped)
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, to)
		defer cancel()
		out, err := acts.Perform(c, a.request(t))
		res, _ := out.Data.(engine.UpdateResult)
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.New("no answer in time: if the update was accepted its result will be in the run's history (send again: the same update id is not run twice)")
		}
		return updateDoneMsg{addr: addr{id}, res: res, err: err}
	}
}

func (d *updateDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	edH := max(min(h-20, 8), 3)
	parts := []string{scopeLines(st, d.s, iw), nameField(st, "Update name", &d.name, iw, d.focus == 0, "handles: ", d.listens.h.Updates, d.listens.note("update names")),
		jsonField(st, "Input (JSON)", &d.input, iw, edH, d.focus == 1)}
	switch {
	case d.sending:
		parts = append(parts, st.Dim.Render("sending… (the run validates it, then its handler runs)"))
	case d.err != "":
		parts = append(parts, wrapText(st.Error, d.err, iw))
	case d.result != nil:
		parts = append(parts, st.Bold.Render("Result ("+string(d.result.Stage)+", update "+shortID(d.result.UpdateID)+")")+"\n"+
			resultLines(d.result.Result, iw, max(h-edH-16, 2)))
	}
	parts = append(parts, st.Dim.Render("ctrl+s send · tab move · esc close"))
	return dialogBox(st, "Update", parts, iw, h, false)
}

// nameAndJSON reads a dialog's name field (focus 0) and JSON editor
// (focus 1); when one is missing or malformed it sets the error and moves
// the focus there.
func nameAndJSON(name *lineEdit, body *textEdit, missing string, errText *string, focus *int) (string, json.RawMessage, bool) {
	n := strings.TrimSpace(name.value())
	if n == "" {
		*errText, *focus = missing, 0
		return "", nil, false
	}
	raw, err := validJSON(body.value())
	if err != nil {
		*errText, *focus = err.Error(), 1
		return "", nil, false
	}
	return n, raw, true
}

// nameField is a dialog's name editor with, under it, the names the run's
// code has (prefixed by what, completed by tab), or why they are missing.
func nameField(st *Styles, label string, e *lineEdit, width int, focused bool, what string, names []string, note string) string {
	s := field(st, label, e, width, focused)
	if len(names) > 0 {
		return s + "\n  " + st.Dim.Render(fit(what+strings.Join(names, ", ")+" (tab completes)", width-2))
	}
	if note != "" {
		s += "\n  " + st.Dim.Render(fit(note, width-2))
	}
	return s
}

// jsonField is a dialog's labelled JSON editor.
func jsonField(st *Styles, label string, e *textEdit, width, height int, focused bool) string {
	mark := "  "
	if focused {
		mark = "▸ "
	}
	return mark + st.Bold.Render(label) + "\n" + e.view(st, width, height, focused)
}

// resultLines renders a JSON result indented, at most n lines of width.
func resultLines(raw json.RawMessage, width, n int) string {
	if len(raw) == 0 {
		return "  (no result)"
	}
	var v any
	text := string(raw)
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.MarshalIndent(v, "", "  "); err == nil {
			text = string(b)
		}
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = append(lines[:n-1], "…")
	}
	for i, l := range lines {
		lines[i] = "  " + fit(l, width-2)
	}
	return strings.Join(lines, "\n")
}
