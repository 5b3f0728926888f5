package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// lineEdit is a one-line text field: the query bar, the palette, comments,
// reasons, typed confirmations and the history search. It is bubbles'
// textinput with its virtual cursor held still (no blink), so frames are
// deterministic (golden files). The zero value is an empty field.
//
// What stays ours is the glue the dialogs need: a field is focused when a
// key reaches it and drawn focused or not by whoever renders it (the
// dialogs keep one focus index, not a Focus/Blur call per field), and
// handle reports whether the key was an editing key.
type lineEdit struct {
	in    textinput.Model
	ready bool
}

// lineKeys are textinput's bindings less ctrl+v, which reads the clipboard
// by running an external program (a terminal paste arrives as
// tea.PasteMsg), and the suggestion keys: the palette and the query bar
// give up/down and tab their own meaning.
var lineKeys = func() textinput.KeyMap {
	km := textinput.DefaultKeyMap()
	km.Paste, km.AcceptSuggestion, km.NextSuggestion, km.PrevSuggestion = key.Binding{}, key.Binding{}, key.Binding{}, key.Binding{}
	return km
}()

// lineBindings lists lineKeys, to tell an editing key from any other.
var lineBindings = []key.Binding{
	lineKeys.CharacterForward, lineKeys.CharacterBackward, lineKeys.WordForward, lineKeys.WordBackward,
	lineKeys.DeleteWordBackward, lineKeys.DeleteWordForward, lineKeys.DeleteAfterCursor, lineKeys.DeleteBeforeCursor,
	lineKeys.DeleteCharacterBackward, lineKeys.DeleteCharacterForward, lineKeys.LineStart, lineKeys.LineEnd,
}

func newLineEdit(s string) lineEdit {
	var e lineEdit
	e.set(s)
	return e
}

func (e *lineEdit) model() *textinput.Model {
	if !e.ready {
		e.in = textinput.New()
		e.in.Prompt = ""
		e.in.KeyMap = lineKeys
		// Still from the start: a blinking cursor would make Focus start a
		// blink timer (view sets the theme's styles, also still).
		s := e.in.Styles()
		s.Cursor.Blink = false
		e.in.SetStyles(s)
		e.ready = true
	}
	return &e.in
}

func (e *lineEdit) value() string { return e.in.Value() }

// set replaces the text and puts the cursor at its end.
func (e *lineEdit) set(s string) {
	in := e.model()
	in.SetValue(s)
	in.CursorEnd()
}

// insert adds text at the cursor; newlines and tabs become spaces.
func (e *lineEdit) insert(s string) {
	in := e.model()
	in.Focus()
	// The input's commands are cursor blinks and clipboard reads: with a
	// static cursor and no ctrl+v it returns none.
	*in, _ = in.Update(tea.PasteMsg{Content: s})
}

// handle applies an editing key and reports whether it was one.
func (e *lineEdit) handle(k tea.KeyPressMsg) bool {
	if !typing(k) && !key.Matches(k, lineBindings...) {
		return false
	}
	in := e.model()
	in.Focus()
	*in, _ = in.Update(k)
	return true
}

// typing reports whether k types its text. The editors insert the text of
// any key they do not bind; a ctrl or alt chord never types.
func typing(k tea.KeyPressMsg) bool {
	return k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0
}

// view renders the field in width cells, the cursor a reverse cell when
// focused; the input scrolls sideways to keep the cursor in view.
func (e *lineEdit) view(st *Styles, width int, focused bool) string {
	if width <= 1 {
		return ""
	}
	in := e.model()
	in.SetStyles(inputStyles(st))
	if focused {
		in.Focus()
	} else {
		in.Blur()
	}
	in.SetWidth(width - 1) // the text; the cursor takes one more cell
	// SetWidth does not scroll; placing the cursor where it is does, so a
	// resize or the first frame after typing keeps the cursor in view.
	in.SetCursor(in.Position())
	return padLine(in.View(), width)
}

// inputStyles dresses a textinput in the theme: text in Input, the cursor
// in reverse (Cursor's colour, none under NO_COLOR), never blinking.
func inputStyles(st *Styles) textinput.Styles {
	s := textinput.StyleState{Text: st.Input, Placeholder: st.Dim, Suggestion: st.Dim, Prompt: lipgloss.NewStyle()}
	return textinput.Styles{Focused: s, Blurred: s,
		Cursor: textinput.CursorStyle{Color: st.Cursor.GetForeground(), Shape: tea.CursorBlock}}
}
