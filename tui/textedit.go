package tui

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// textEdit is a small multi-line editor for JSON payloads (signal payloads,
// query arguments): bubbles' textarea with line numbers, long lines
// soft-wrapped and, like lineEdit, a virtual cursor that does not blink.
// Built by newTextEdit; it holds pointers (the textarea's viewport), so it
// is not copied once in use.
//
// Ours on top: the field is focused when a key reaches it and drawn as its
// dialog says (see lineEdit), and Enter keeps the indentation of the line,
// as code editors do, which the textarea does not.
type textEdit struct {
	ta textarea.Model
}

// textMaxLines bounds the lines Enter can make. The textarea sizes the
// line-number column for it (three digits, as before); a paste is bounded
// by the textarea's own 10,000 lines only.
const textMaxLines = 999

func newTextEdit(s string) textEdit {
	ta := textarea.New()
	ta.Prompt = ""
	ta.ShowLineNumbers = true
	ta.EndOfBufferCharacter = '~'
	ta.MaxHeight = textMaxLines
	// ctrl+v and ctrl+shift+c run an external clipboard program; a terminal
	// paste arrives as tea.PasteMsg, and y/Y copy by OSC 52 elsewhere.
	ta.KeyMap.Paste, ta.KeyMap.CopySelection = key.Binding{}, key.Binding{}
	still := ta.Styles() // a still cursor from the start, as in lineEdit.model
	still.Cursor.Blink = false
	ta.SetStyles(still)
	ta.SetValue(s)
	return textEdit{ta: ta}
}

func (e *textEdit) value() string { return e.ta.Value() }

// moveTo puts the cursor on line row (0-based), column col.
func (e *textEdit) moveTo(row, col int) {
	e.ta.MoveToBegin()
	for e.ta.Line() < row {
		l, c := e.ta.Line(), e.ta.Column()
		e.ta.CursorDown()
		if e.ta.Line() == l && e.ta.Column() == c {
			break // the last line
		}
	}
	e.ta.SetCursorColumn(col)
}

// insert pastes s at the cursor. Line ends become one newline and a tab one
// space, as before (the textarea would make \r\n two lines, a tab four).
func (e *textEdit) insert(s string) {
	s = strings.NewReplacer("\r\n", "\n", "\r", "", "\t", " ").Replace(s)
	e.ta.Focus()
	// The textarea's commands are cursor blinks and clipboard reads and
	// writes: with a static cursor and those keys unbound it returns none.
	e.ta, _ = e.ta.Update(tea.PasteMsg{Content: s})
}

// handle applies an editing key; other keys do nothing.
func (e *textEdit) handle(k tea.KeyPressMsg) {
	if k.Text != "" && !typing(k) {
		return // the textarea would type the text of a ctrl or alt chord
	}
	e.ta.Focus()
	row, indent := e.ta.Line(), 0
	if key.Matches(k, e.ta.KeyMap.InsertNewline) {
		line := []rune(strings.Split(e.ta.Value(), "\n")[row])
		for indent < min(e.ta.Column(), len(line)) && line[indent] == ' ' {
			indent++
		}
	}
	e.ta, _ = e.ta.Update(k)
	if indent > 0 && e.ta.Line() == row+1 { // a line was made (not at the 999th)
		e.ta.InsertString(strings.Repeat(" ", indent))
	}
}

// view renders height lines of width cells: line numbers, the text, and ~
// past its end.
func (e *textEdit) view(st *Styles, width, height int, focused bool) string {
	e.ta.SetStyles(textStyles(st))
	if focused {
		e.ta.Focus()
	} else {
		e.ta.Blur()
	}
	e.ta.SetWidth(width)
	e.ta.SetHeight(height) // after the width: it scrolls the cursor into view
	return e.ta.View()
}

// textStyles dresses a textarea in the theme (see inputStyles): no
// highlighted cursor line, dim line numbers and end of buffer.
func textStyles(st *Styles) textarea.Styles {
	s := textarea.StyleState{Base: lipgloss.NewStyle(), Text: st.Input, CursorLine: st.Input,
		LineNumber: st.Dim, CursorLineNumber: st.Dim, EndOfBuffer: st.Dim, Placeholder: st.Dim,
		Prompt: lipgloss.NewStyle(), Selection: st.Selected}
	return textarea.Styles{Focused: s, Blurred: s,
		Cursor: textarea.CursorStyle{Color: st.Cursor.GetForeground(), Shape: tea.CursorBlock}}
}

// validJSON checks a payload before it is sent; empty means JSON null. The
// error names the line and column, as an editor would.
func validJSON(s string) (json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return json.RawMessage("null"), nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		off := int64(len(s))
		if errors.As(err, &se) {
			off = max(se.Offset-1, 0) // Offset is just past the offending byte
		}
		line, col := lineCol(s, int(off))
		return nil, fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, err)
	}
	if dec.More() {
		line, col := lineCol(s, int(dec.InputOffset()))
		return nil, fmt.Errorf("invalid JSON at line %d, column %d: more than one value", line, col)
	}
	return json.RawMessage(strings.TrimSpace(s)), nil
}

func lineCol(s string, off int) (int, int) {
	off = min(max(off, 0), len(s))
	line := 1 + strings.Count(s[:off], "\n")
	col := off - strings.LastIndex(s[:off], "\n")
	return line, col
}
