package tui

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// textEdit is a small multi-line editor for JSON payloads (signal payloads,
// query arguments). Like lineEdit it has no blinking cursor.
type textEdit struct {
	lines [][]rune
	row   int
	col   int
	top   int // first visible line
}

func newTextEdit(s string) textEdit {
	e := textEdit{}
	e.set(s)
	return e
}

func (e *textEdit) set(s string) {
	e.lines = nil
	for _, l := range strings.Split(s, "\n") {
		e.lines = append(e.lines, []rune(l))
	}
	e.row = len(e.lines) - 1
	e.col = len(e.lines[e.row])
	e.top = 0
}

func (e *textEdit) value() string {
	parts := make([]string, len(e.lines))
	for i, l := range e.lines {
		parts[i] = string(l)
	}
	return strings.Join(parts, "\n")
}

func (e *textEdit) insert(s string) {
	for i, part := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if i > 0 {
			e.newline()
		}
		part = strings.Map(func(r rune) rune {
			if r == '\t' {
				return ' '
			}
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, part)
		r := []rune(part)
		l := e.lines[e.row]
		e.lines[e.row] = append(l[:e.col], append(r, l[e.col:]...)...)
		e.col += len(r)
	}
}

func (e *textEdit) newline() {
	l := e.lines[e.row]
	head, tail := append([]rune(nil), l[:e.col]...), append([]rune(nil), l[e.col:]...)
	// Keep the indentation of the line, as editors do.
	indent := 0
	for indent < len(head) && head[indent] == ' ' {
		indent++
	}
	tail = append([]rune(strings.Repeat(" ", indent)), tail...)
	e.lines[e.row] = head
	e.lines = append(e.lines[:e.row+1], append([][]rune{tail}, e.lines[e.row+1:]...)...)
	e.row++
	e.col = indent
}

// handle applies an editing key and reports whether it was one.
func (e *textEdit) handle(k tea.KeyPressMsg) bool {
	switch k.String() {
	case "enter":
		e.newline()
	case "tab":
		e.insert("  ")
	case "left":
		if e.col > 0 {
			e.col--
		} else if e.row > 0 {
			e.row--
			e.col = len(e.lines[e.row])
		}
	case "right":
		if e.col < len(e.lines[e.row]) {
			e.col++
		} else if e.row < len(e.lines)-1 {
			e.row++
			e.col = 0
		}
	case "up":
		if e.row > 0 {
			e.row--
			e.col = min(e.col, len(e.lines[e.row]))
		}
	case "down":
		if e.row < len(e.lines)-1 {
			e.row++
			e.col = min(e.col, len(e.lines[e.row]))
		}
	case "home", "ctrl+a":
		e.col = 0
	case "end", "ctrl+e":
		e.col = len(e.lines[e.row])
	case "backspace", "ctrl+h":
		switch {
		case e.col > 0:
			l := e.lines[e.row]
			e.lines[e.row] = append(l[:e.col-1], l[e.col:]...)
			e.col--
		case e.row > 0:
			prev := e.lines[e.row-1]
			e.col = len(prev)
			e.lines[e.row-1] = append(prev, e.lines[e.row]...)
			e.lines = append(e.lines[:e.row], e.lines[e.row+1:]...)
			e.row--
		}
	case "delete":
		l := e.lines[e.row]
		switch {
		case e.col < len(l):
			e.lines[e.row] = append(l[:e.col], l[e.col+1:]...)
		case e.row < len(e.lines)-1:
			e.lines[e.row] = append(l, e.lines[e.row+1]...)
			e.lines = append(e.lines[:e.row+1], e.lines[e.row+2:]...)
		}
	case "ctrl+k":
		e.lines[e.row] = e.lines[e.row][:e.col]
	case "ctrl+u":
		e.lines[e.row] = e.lines[e.row][e.col:]
		e.col = 0
	default:
		if k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0 {
			e.insert(k.Text)
			return true
		}
		return false
	}
	return true
}

// view renders height lines of width cells with line numbers.
func (e *textEdit) view(st *Styles, width, height int, focused bool) string {
	if e.row < e.top {
		e.top = e.row
	}
	if e.row >= e.top+height {
		e.top = e.row - height + 1
	}
	var b strings.Builder
	for i := e.top; i < e.top+height; i++ {
		if i > e.top {
			b.WriteByte('\n')
		}
		if i >= len(e.lines) {
			b.WriteString(st.Dim.Render(fit("~", width)))
			continue
		}
		num := st.Dim.Render(fmt.Sprintf("%3d ", i+1))
		w := width - 4
		l := e.lines[i]
		if i != e.row || !focused {
			b.WriteString(num + st.Input.Render(fit(string(l), w)))
			continue
		}
		start := 0
		if e.col >= w-1 {
			start = e.col - (w - 2)
		}
		end := min(len(l), start+w-1)
		at := " "
		after := ""
		if e.col < len(l) {
			at = string(l[e.col])
			if e.col+1 < end {
				after = string(l[e.col+1 : end])
			}
		}
		line := st.Input.Render(string(l[start:e.col])) + st.Cursor.Render(at) + st.Input.Render(after)
		if n := ansi.StringWidth(line); n < w {
			line += strings.Repeat(" ", w-n)
		}
		b.WriteString(num + line)
	}
	return b.String()
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
