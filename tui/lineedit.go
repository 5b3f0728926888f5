package tui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// lineEdit is a one-line text field: the query bar, the palette, comments,
// reasons and typed confirmations. It is deliberately small and has no
// blinking cursor, so renders are deterministic (golden files).
type lineEdit struct {
	text []rune
	pos  int
}

func newLineEdit(s string) lineEdit {
	r := []rune(s)
	return lineEdit{text: r, pos: len(r)}
}

func (e *lineEdit) value() string { return string(e.text) }

func (e *lineEdit) set(s string) {
	e.text = []rune(s)
	e.pos = len(e.text)
}

// insert adds text at the cursor; newlines and tabs become spaces.
func (e *lineEdit) insert(s string) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	r := []rune(s)
	e.text = append(e.text[:e.pos], append(r, e.text[e.pos:]...)...)
	e.pos += len(r)
}

// handle applies an editing key and reports whether it was one.
func (e *lineEdit) handle(k tea.KeyPressMsg) bool {
	switch k.String() {
	case "left", "ctrl+b":
		e.pos = max(e.pos-1, 0)
	case "right", "ctrl+f":
		e.pos = min(e.pos+1, len(e.text))
	case "home", "ctrl+a":
		e.pos = 0
	case "end", "ctrl+e":
		e.pos = len(e.text)
	case "backspace", "ctrl+h":
		if e.pos > 0 {
			e.text = append(e.text[:e.pos-1], e.text[e.pos:]...)
			e.pos--
		}
	case "delete", "ctrl+d":
		if e.pos < len(e.text) {
			e.text = append(e.text[:e.pos], e.text[e.pos+1:]...)
		}
	case "ctrl+u":
		e.text = e.text[e.pos:]
		e.pos = 0
	case "ctrl+k":
		e.text = e.text[:e.pos]
	case "ctrl+w", "alt+backspace":
		i := e.pos
		for i > 0 && e.text[i-1] == ' ' {
			i--
		}
		for i > 0 && e.text[i-1] != ' ' {
			i--
		}
		e.text = append(e.text[:i], e.text[e.pos:]...)
		e.pos = i
	case "alt+left", "alt+b":
		for e.pos > 0 && e.text[e.pos-1] == ' ' {
			e.pos--
		}
		for e.pos > 0 && e.text[e.pos-1] != ' ' {
			e.pos--
		}
	case "alt+right", "alt+f":
		for e.pos < len(e.text) && e.text[e.pos] == ' ' {
			e.pos++
		}
		for e.pos < len(e.text) && e.text[e.pos] != ' ' {
			e.pos++
		}
	default:
		if k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0 {
			e.insert(k.Text)
			return true
		}
		return false
	}
	return true
}

// view renders the text in width cells with the cursor shown by a reverse
// cell, scrolling horizontally to keep the cursor visible.
func (e *lineEdit) view(st *Styles, width int, focused bool) string {
	if width <= 1 {
		return ""
	}
	start := 0
	if e.pos >= width-1 {
		start = e.pos - (width - 2)
	}
	end := min(len(e.text), start+width-1)
	before := string(e.text[start:e.pos])
	var at, after string
	if e.pos < len(e.text) {
		at = string(e.text[e.pos])
		if e.pos+1 < end {
			after = string(e.text[e.pos+1 : end])
		}
	} else {
		at = " "
	}
	out := st.Input.Render(before)
	if focused {
		out += st.Cursor.Render(at)
	} else {
		out += st.Input.Render(at)
	}
	out += st.Input.Render(after)
	if n := ansi.StringWidth(out); n < width {
		out += strings.Repeat(" ", width-n)
	}
	return out
}
