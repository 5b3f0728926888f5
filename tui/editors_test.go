package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// The keys the console's one-line fields always had (the emacs ones) still
// edit, and every other key is left to the dialog.
func TestLineEditKeys(t *testing.T) {
	for _, tc := range []struct {
		start string
		keys  []string
		want  string
	}{
		{"status:running", []string{"ctrl+a", "delete"}, "tatus:running"},
		{"status:running", []string{"home", "ctrl+d", "end", "backspace"}, "tatus:runnin"},
		{"type:Order status:running", []string{"ctrl+w"}, "type:Order "},
		{"type:Order status:running", []string{"alt+backspace", "alt+backspace"}, ""},
		{"type:Order status:running", []string{"alt+b", "ctrl+k"}, "type:Order "},
		{"type:Order status:running", []string{"alt+b", "alt+b", "alt+f", "ctrl+u"}, " status:running"},
		{"abc", []string{"left", "ctrl+b", "ctrl+h", "right", "ctrl+f", "ctrl+e"}, "bc"},
		{"abc", []string{"left", "ctrl+h"}, "ac"},
	} {
		e := newLineEdit(tc.start)
		for _, k := range tc.keys {
			if !e.handle(keyMsg(k)) {
				t.Errorf("%q: %s is not an editing key", tc.start, k)
			}
		}
		if got := e.value(); got != tc.want {
			t.Errorf("%q after %v = %q, want %q", tc.start, tc.keys, got, tc.want)
		}
	}
	var e lineEdit // the zero value is an empty field
	for _, k := range []string{"up", "down", "tab", "enter", "esc", "ctrl+s", "ctrl+v", "ctrl+n", "ctrl+p"} {
		if e.handle(keyMsg(k)) {
			t.Errorf("%s handled as an editing key", k)
		}
	}
	// A chord carrying text does not type it.
	e.handle(tea.KeyPressMsg{Code: 'x', Text: "x", Mod: tea.ModAlt})
	e.handle(tea.KeyPressMsg{Code: 'é', Text: "é"})
	e.insert("a\tb\r\nc")
	if got := e.value(); got != "éa b  c" {
		t.Fatalf("typed and pasted %q", got)
	}
}

// The field fills its width exactly, keeps the cursor in view when the text
// is longer, draws the cursor as one reverse cell only when focused, and
// draws the same frame twice (no blink).
func TestLineEditView(t *testing.T) {
	st := newStyles(true, false)
	var e lineEdit
	if e.model().Focus() != nil {
		t.Fatal("focusing a field starts a cursor blink")
	}
	for _, r := range "order-1001 order-1002 order-1003" {
		e.handle(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	v := e.view(&st, 12, true)
	if w := ansi.StringWidth(v); w != 12 {
		t.Fatalf("width %d, want 12: %q", w, v)
	}
	if plain := ansi.Strip(v); !strings.Contains(plain, "1003") {
		t.Fatalf("the cursor's end of the text is out of view: %q", plain)
	}
	if strings.Count(v, "\x1b[7m") != 1 {
		t.Fatalf("want one reverse cursor cell: %q", v)
	}
	if again := e.view(&st, 12, true); again != v {
		t.Fatalf("the frame changed by itself:\n%q\n%q", v, again)
	}
	e.handle(keyMsg("home"))
	if plain := ansi.Strip(e.view(&st, 12, true)); !strings.HasPrefix(plain, "order-1001") {
		t.Fatalf("home does not scroll back: %q", plain)
	}
	if v := e.view(&st, 12, false); strings.Contains(v, "\x1b[7m") {
		t.Fatalf("unfocused field shows a cursor: %q", v)
	}
	mono := newStyles(true, true)
	if v := e.view(&mono, 12, true); !strings.Contains(v, "\x1b[7m") || strings.Contains(v, "38;") {
		t.Fatalf("NO_COLOR: want a reverse cursor and no colour: %q", v)
	}
}

// Enter keeps the line's indentation, a paste keeps its lines (one per
// CRLF), and the editor shows line numbers and ~ past the end.
func TestTextEdit(t *testing.T) {
	st := newStyles(true, false)
	e := newTextEdit("{\n  \"a\": 1,")
	if e.ta.Focus() != nil {
		t.Fatal("focusing the editor starts a cursor blink")
	}
	e.handle(keyMsg("enter"))
	for _, r := range `"b": 2` {
		e.handle(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	e.handle(tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl}) // the dialog's key, not the editor's
	e.handle(keyMsg("enter"))
	e.handle(keyMsg("backspace"))
	e.handle(keyMsg("backspace"))
	e.insert("}\r\n\t")
	want := "{\n  \"a\": 1,\n  \"b\": 2\n}\n "
	if got := e.value(); got != want {
		t.Fatalf("value %q, want %q", got, want)
	}
	if _, err := validJSON(e.value()); err != nil {
		t.Fatal(err)
	}
	v := e.view(&st, 30, 7, true)
	lines := strings.Split(ansi.Strip(v), "\n")
	if len(lines) != 7 || strings.TrimSpace(lines[0]) != "1 {" || strings.TrimSpace(lines[2]) != `3   "b": 2` ||
		strings.TrimSpace(lines[5]) != "~" {
		t.Fatalf("view:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w != 30 {
			t.Fatalf("line %q is %d cells, want 30", l, w)
		}
	}
	if strings.Count(v, "\x1b[7m") != 1 {
		t.Fatalf("want one reverse cursor cell: %q", v)
	}
	if e.view(&st, 30, 7, true) != v {
		t.Fatal("the frame changed by itself")
	}
	if strings.Contains(e.view(&st, 30, 7, false), "\x1b[7m") {
		t.Fatal("unfocused editor shows a cursor")
	}
}

// A terminal paste lands in the open field, on one line in the query bar.
func TestPasteIntoTheQueryBar(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.press("/", "ctrl+u")
	h.send(tea.PasteMsg{Content: "type:OrderWorkflow\nstatus:running"})
	if got := h.m.modal.(*queryBar).in.value(); got != "type:OrderWorkflow status:running" {
		t.Fatalf("query bar holds %q", got)
	}
}
