package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// The history tab's tools: filter by event type, failures only, a compact
// view without the workflow-task bookkeeping (engine.HistoryFilter, which
// `foreman history --type/--failures/--compact` applies too), jumping
// from failure to failure (n/N when no search is applied), and a diff
// against another run (historydiff.go).

// historyKeys are the history tab's own bindings.
type historyKeys struct {
	Failures, Compact, Types, Diff key.Binding
}

var histKeys = historyKeys{
	Failures: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "failures only")),
	Compact:  key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "compact: fold task bookkeeping")),
	Types:    key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "filter by event type")),
	Diff:     key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "diff runs")),
}

// jumpKeys describes n/N in the history tab, where they jump between
// failures unless a search is applied.
var (
	jumpKeys = key.NewBinding(key.WithKeys("n", "N"), key.WithHelp("n/N", "failures"))
	jumpHelp = key.NewBinding(key.WithKeys("n", "N"), key.WithHelp("n/N", "next/previous failure (match when searching)"))
)

// promptKind is what the history tab's prompt asks for.
type promptKind uint8

const (
	promptTypes promptKind = iota + 1 // the type filter
	promptDiff                        // the run to diff with
)

// tabPrompt is the history tab's one-line prompt, drawn in place of its
// hint line.
type tabPrompt struct {
	kind promptKind // 0: closed
	edit lineEdit
	err  string
}

func (p *tabPrompt) open(kind promptKind, value string) {
	p.kind, p.err = kind, ""
	p.edit.set(value)
}

func (p *tabPrompt) view(st *Styles, w int) string {
	label, hint := "type ", "  parts of type names, comma-separated (activity,signal); empty: all"
	if p.kind == promptDiff {
		label, hint = "diff with ", "  WORKFLOW_ID, or WORKFLOW_ID@RUN_ID; or mark one run in the list"
	}
	head := st.Key.Render(label) + p.edit.view(st, max(w/2, 20), true)
	if p.err != "" {
		return head + "  " + st.Error.Render(fit(p.err, max(w-ansiWidth(head)-2, 1)))
	}
	return head + st.Dim.Render(fit(hint, max(w-ansiWidth(head), 1)))
}

// editing tells whether a prompt of the tab owns the keys.
func (t *timeline) editing() bool { return t.searching || t.prompt.kind != 0 }

// editKey routes a key to the open prompt.
func (t *timeline) editKey(m *Model, d *detailScreen, k tea.KeyPressMsg) tea.Cmd {
	if t.searching {
		t.searchKey(k, d.events)
		return nil
	}
	switch k.String() {
	case "esc":
		t.prompt.kind = 0
	case "enter":
		return t.submit(m, d)
	default:
		t.prompt.edit.handle(k)
		t.prompt.err = ""
	}
	return nil
}

// submit applies what the prompt asked for, or says what is wrong with it.
func (t *timeline) submit(m *Model, d *detailScreen) tea.Cmd {
	v := strings.TrimSpace(t.prompt.edit.value())
	switch t.prompt.kind {
	case promptTypes:
		ts, err := engine.ParseEventTypes(v)
		if err != nil {
			t.prompt.err = strings.TrimPrefix(err.Error(), engine.ErrInvalidArgument.Error()+": ")
			return nil
		}
		t.prompt.kind = 0
		t.filter.Types = ts
		t.refilter(d.events)
	case promptDiff:
		wf, run, _ := strings.Cut(v, "@")
		if wf == "" {
			t.prompt.err = "name a workflow id"
			return nil
		}
		t.prompt.kind = 0
		return m.push(newHistoryDiff(m, d.target(), d.events, target{WorkflowID: wf, RunID: run}))
	}
	return nil
}

// filterKey toggles the filters and opens the type prompt and the diff.
func (t *timeline) filterKey(m *Model, d *detailScreen, k tea.KeyPressMsg) (tea.Cmd, bool) {
	switch {
	case key.Matches(k, histKeys.Failures):
		t.filter.Failures = !t.filter.Failures
	case key.Matches(k, histKeys.Compact):
		t.filter.Compact = !t.filter.Compact
	case key.Matches(k, histKeys.Types):
		names := make([]string, len(t.filter.Types))
		for i, ty := range t.filter.Types {
			names[i] = string(ty)
		}
		t.prompt.open(promptTypes, strings.Join(names, ","))
		return nil, true
	case key.Matches(k, histKeys.Diff):
		return d.openDiff(m), true
	default:
		return nil, false
	}
	t.refilter(d.events)
	t.follow(d.events)
	return nil, true
}

// refilter applies a changed filter, keeping the cursor on the same event
// or the nearest one after it that is still shown.
func (t *timeline) refilter(events []engine.Event) {
	at := 0
	if len(t.shown) > 0 && t.cursor < len(t.shown) {
		at = t.shown[t.cursor]
	}
	t.shown = t.filter.Select(events)
	t.cursor, t.offset = len(t.shown)-1, 0
	for pos, i := range t.shown {
		if i >= at {
			t.cursor = pos
			break
		}
	}
	t.cursor = max(t.cursor, 0)
	t.match()
}

// jumpFailure moves to the next (dir 1) or previous (-1) failure shown,
// wrapping around; it says so when there is none.
func (t *timeline) jumpFailure(m *Model, events []engine.Event, dir int) tea.Cmd {
	n := len(t.shown)
	for step := 1; step <= n; step++ {
		pos := ((t.cursor+dir*step)%n + n) % n
		if t.rows[t.shown[pos]].fail {
			t.cursor = pos
			t.follow(events)
			return nil
		}
	}
	return m.flashOK("no failure in this history%s", map[bool]string{true: "", false: " (as filtered)"}[t.filter.IsZero()])
}

// filterInfo says which filters apply and how much they hide.
func (t *timeline) filterInfo(total int) string {
	var on []string
	if len(t.filter.Types) > 0 {
		names := make([]string, len(t.filter.Types))
		for i, ty := range t.filter.Types {
			names[i] = string(ty)
		}
		on = append(on, "types "+strings.Join(names, ","))
	}
	if t.filter.Failures {
		on = append(on, "failures only")
	}
	if t.filter.Compact {
		on = append(on, "compact")
	}
	return fmt.Sprintf("%s of %s events · %s · f/c/t toggle", thousands(len(t.shown)), thousands(total), strings.Join(on, " · "))
}

// markedRuns are the runs marked in the lists open, but the one excluded.
func markedRuns(m *Model, except string) []target {
	var marked []target
	for _, s := range m.stack {
		if l, ok := s.(*runList); ok {
			for _, t := range l.marks {
				if t.RunID != except {
					marked = append(marked, t)
				}
			}
		}
	}
	return marked
}

// diffCommand is :diff — from a run's view, against the run named (or the
// one marked); elsewhere, the two runs marked in the list.
func diffCommand(m *Model, arg string) tea.Cmd {
	if d, ok := m.top().(*detailScreen); ok {
		if arg = strings.TrimSpace(arg); arg == "" {
			return d.openDiff(m)
		}
		wf, run, _ := strings.Cut(arg, "@")
		return m.push(newHistoryDiff(m, d.target(), d.events, target{WorkflowID: wf, RunID: run}))
	}
	marked := markedRuns(m, "")
	if len(marked) != 2 {
		return m.flashErr("diff: mark two runs (space) to compare them, or open a run and press D on its history; %d marked", len(marked))
	}
	a, b := marked[0], marked[1] // in a stable order, whatever the order of the marks
	if b.WorkflowID+b.RunID < a.WorkflowID+a.RunID {
		a, b = b, a
	}
	return m.push(newHistoryDiff(m, a, nil, b))
}
