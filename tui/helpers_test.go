package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// harness drives the model as the Bubble Tea runtime would, synchronously:
// each command runs to its message, which goes back into Update. Timers are
// recorded instead of waited for; tests send the timed message themselves.
type harness struct {
	t         testing.TB
	m         *Model
	b         *fakeBackend
	ticks     []time.Duration
	clipboard []string
	// after, when set, runs after each message is handled (a test reacts
	// mid-flow, on the test's goroutine).
	after func()
}

func newHarness(t testing.TB, b *fakeBackend, opts Options) *harness {
	t.Helper()
	opts.Now = func() time.Time { return testClock }
	if opts.Identity == "" {
		opts.Identity = "alice"
	}
	b.t = t
	m := New(context.Background(), b, opts)
	h := &harness{t: t, m: m, b: b}
	m.tick = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		h.ticks = append(h.ticks, d)
		return nil
	}
	h.resize(80, 24)
	h.run(m.start())
	return h
}

func (h *harness) resize(w, hgt int) {
	h.send(tea.WindowSizeMsg{Width: w, Height: hgt})
}

// send delivers a message and runs every command it leads to.
func (h *harness) send(msg tea.Msg) {
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 100000 {
			h.t.Fatal("commands do not settle")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			if t := reflect.TypeOf(msg); t.PkgPath() == reflect.TypeOf(tea.QuitMsg{}).PkgPath() && t.Name() == "setClipboardMsg" {
				h.clipboard = append(h.clipboard, fmt.Sprint(msg))
				continue
			}
			_, next := h.m.Update(msg)
			queue = append(queue, next)
			if h.after != nil {
				h.after()
			}
		}
	}
}

// press sends keys by name: "j", "enter", "esc", "ctrl+d", "shift+tab", "space", "G".
func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

// typeText types s one character at a time.
func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	named := map[string]rune{"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "backspace": tea.KeyBackspace,
		"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight, "pgup": tea.KeyPgUp,
		"pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd, "delete": tea.KeyDelete}
	var mod tea.KeyMod
	for {
		switch {
		case strings.HasPrefix(k, "ctrl+"):
			mod |= tea.ModCtrl
			k = k[5:]
			continue
		case strings.HasPrefix(k, "alt+"):
			mod |= tea.ModAlt
			k = k[4:]
			continue
		case strings.HasPrefix(k, "shift+"):
			mod |= tea.ModShift
			k = k[6:]
			continue
		}
		break
	}
	if k == "space" {
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " ", Mod: mod}
	}
	if c, ok := named[k]; ok {
		return tea.KeyPressMsg{Code: c, Mod: mod}
	}
	r := []rune(k)[0]
	if mod != 0 {
		return tea.KeyPressMsg{Code: r, Mod: mod}
	}
	return tea.KeyPressMsg{Code: r, Text: k}
}

// screen renders the frame through the ASCII colour profile (no colours)
// and drops the remaining attributes (bold, reverse), so golden files are
// plain text: selection shows by its ▶ marker, never by style alone.
func (h *harness) screen() string {
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ASCII}
	_, _ = w.WriteString(h.m.View().Content)
	return ansi.Strip(buf.String())
}

// golden compares the frame with testdata/<test name>.golden (go test
// ./tui -update rewrites them).
func (h *harness) golden() {
	h.t.Helper()
	golden.RequireEqual(h.t, h.screen())
}

func (h *harness) list() *runList {
	l, ok := h.m.top().(*runList)
	if !ok {
		h.t.Fatalf("top screen is %T, not a list", h.m.top())
	}
	return l
}

func (h *harness) detail() *detailScreen {
	d, ok := h.m.top().(*detailScreen)
	if !ok {
		h.t.Fatalf("top screen is %T, not a detail view", h.m.top())
	}
	return d
}

func (h *harness) wantCalls(want ...string) {
	h.t.Helper()
	got := h.b.Calls()
	var writes []string
	for _, c := range got {
		if !strings.HasPrefix(c, "query ") {
			writes = append(writes, c)
		}
	}
	if strings.Join(writes, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("backend writes:\n%s\nwant:\n%s", strings.Join(writes, "\n"), strings.Join(want, "\n"))
	}
}

// wantCallsAnyOrder is wantCalls for batches, which act on runs in parallel.
func (h *harness) wantCallsAnyOrder(want ...string) {
	h.t.Helper()
	got := h.b.Calls()
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("backend writes:\n%s\nwant (any order):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func (h *harness) wantScreenContains(parts ...string) {
	h.t.Helper()
	s := h.screen()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			h.t.Fatalf("screen does not show %q:\n%s", p, s)
		}
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func mouseClick(x, y int) tea.MouseClickMsg {
	return tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft}
}

func mouseWheelDown() tea.MouseWheelMsg {
	return tea.MouseWheelMsg{Button: tea.MouseWheelDown}
}

func lightBackground() tea.BackgroundColorMsg {
	return tea.BackgroundColorMsg{Color: color.White}
}
