package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/operator/stuck"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// diagnosisScreen is the :stuck view's diagnosis (D on :stuck, or
// :diagnose): the stuck runs grouped by cause with counts (package
// operator/stuck, as `foreman stuck` prints them). Enter lists a group's
// runs; x acts on the whole group as a batch by its query with the action
// that fits (approve, unpause, activity retry…); y copies the group's CLI
// command (reset, and actions this console has no key for, run from the
// CLI).
type diagnosisScreen struct {
	id      int
	after   time.Duration
	d       stuck.Diagnosis
	cursor  int
	err     error
	loading bool
}

type diagnosisMsg struct {
	addr
	d   stuck.Diagnosis
	err error
}

var (
	keyActGroup  = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "act on the group"))
	keyCopyGroup = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy its command"))
	keyDiagnose  = key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "by cause"))
)

func newDiagnosis(m *Model, after time.Duration) *diagnosisScreen {
	return &diagnosisScreen{id: m.id(), after: after}
}

func (s *diagnosisScreen) sid() int                { return s.id }
func (s *diagnosisScreen) acts() bool              { return true }
func (s *diagnosisScreen) crumb() string           { return "stuck > " + compactDuration(s.after) + " by cause" }
func (s *diagnosisScreen) resize(m *Model) tea.Cmd { return nil }
func (s *diagnosisScreen) load(m *Model) tea.Cmd   { s.loading = true; return s.refresh(m) }

func (s *diagnosisScreen) refresh(m *Model) tea.Cmd {
	b, ctx, timeout, id, after := m.b, m.ctx, m.opts.RequestTimeout, s.id, s.after
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		src := stuck.Source{Search: b.Search, Count: b.Count, Queues: func(ctx context.Context) ([]searchapi.QueueHealth, error) {
			p, err := b.Pulse(ctx, searchapi.PulseRequest{Seconds: 1})
			return p.Queues, err
		}}
		d, err := stuck.Diagnose(c, src, stuck.Options{After: after})
		return diagnosisMsg{addr: addr{id}, d: d, err: err}
	}
}

func (s *diagnosisScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	d, ok := msg.(diagnosisMsg)
	if !ok {
		return nil
	}
	s.loading, s.err = false, d.err
	if d.err == nil {
		s.d = d.d
		s.cursor = min(s.cursor, max(len(s.d.Groups)-1, 0))
	}
	return nil
}

func (s *diagnosisScreen) selected() (stuck.Group, bool) {
	if s.cursor < len(s.d.Groups) {
		return s.d.Groups[s.cursor], true
	}
	return stuck.Group{}, false
}

func (s *diagnosisScreen) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	if moveCursor(m.keys, k, &s.cursor, len(s.d.Groups)) {
		return nil, true
	}
	g, ok := s.selected()
	switch {
	case !ok:
		return nil, false
	case key.Matches(k, m.keys.Open):
		l := newRunList(m, listExecutions, g.Query)
		l.name, l.cols, l.sortBy, l.desc = "stuck: "+g.Title, stuckColumns, 2, false
		return m.push(l), true
	case key.Matches(k, keyCopyGroup):
		if g.Command == "" {
			return m.flashOK("%s", g.Hint), true
		}
		return m.copyText(g.Command, "the group's command"), true
	case key.Matches(k, keyActGroup):
		return s.act(m, g), true
	}
	return nil, false
}

// act opens the group's action over every run of its query, when this
// console has that action and can run it as a batch; otherwise it says
// what to run.
func (s *diagnosisScreen) act(m *Model, g stuck.Group) tea.Cmd {
	if g.Action == "" {
		return m.flashOK("%s", g.Hint)
	}
	all := scope{all: true, query: g.Query, sort: []string{"last_event_time", "run_id"}, count: int(g.Count), label: g.Title}
	for _, c := range m.keys.actionBindings() {
		if c.kind.name() != g.Action || c.kind == actReset || c.kind == actCompensate {
			continue // reset and compensate go one run at a time here
		}
		return m.beginAction(c.kind, all)
	}
	// An activity operation over the group names the activity by its type:
	// every run of the group has one pending of that type.
	for _, kind := range []actionKind{actActivityRetry, actActivityReset, actActivityUnpause} {
		if kind.name() != g.Action || g.Activity == "" {
			continue
		}
		if cmd, no := m.cannotAct(kind); no {
			return cmd
		}
		m.modal = newConfirmDialog(m, action{kind: kind, scope: all, activity: g.Activity})
		return nil
	}
	return tea.Batch(m.copyText(g.Command, "the command"), m.flashOK("run it from the CLI (copied): %s", g.Command))
}

func (s *diagnosisScreen) help(k keyMap) []helpGroup {
	return []helpGroup{{"Stuck runs by cause", []key.Binding{k.Up, k.Down, k.Open, keyActGroup, keyCopyGroup}}, k.globalGroup()}
}

func (s *diagnosisScreen) footer(k keyMap) []key.Binding {
	return []key.Binding{k.Open, keyActGroup, keyCopyGroup, k.Back, k.Palette}
}

func (s *diagnosisScreen) header(m *Model) string {
	if s.err != nil {
		return m.st.Error.Render("stuck: " + errorText(s.err))
	}
	h := m.st.Bold.Render(thousands(s.d.Total)) + m.st.Dim.Render(fmt.Sprintf(" runs stuck > %s in %d groups (approvals > %s)", s.d.After, len(s.d.Groups), s.d.PersonAfter))
	if s.d.Partial {
		h += m.st.Warn.Render(fmt.Sprintf(" · the first %d quiet runs grouped", s.d.Scanned))
	}
	return h
}

func (s *diagnosisScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	const countW, causeW = 8, 18
	restW := max(w-2-countW-causeW, 10)
	b.WriteString(m.st.ColHeader.Render("  " + fitRight("RUNS", countW-1) + " " + fit("CAUSE", causeW) + fit("WHAT", restW)))
	if s.loading {
		return b.String() + "\n" + m.st.Dim.Render("  loading…")
	}
	if len(s.d.Groups) == 0 {
		return b.String() + "\n" + m.st.OK.Render("  no run stuck > "+s.d.After)
	}
	lines := make([]string, len(s.d.Groups))
	for i, g := range s.d.Groups {
		lines[i] = fitRight(thousands(g.Count), countW-1) + " " + fit(string(g.Cause), causeW) + fit(g.Title, restW)
	}
	// The groups, then what the selected one needs.
	detail := s.detail(m, w)
	b.WriteString(cursorRows(m, lines, s.cursor, max(h-1-len(detail), 1), func(i int) bool {
		c := s.d.Groups[i].Cause
		return c == stuck.NonDeterminism || c == stuck.DeadLettered || c == stuck.NoWorker
	}))
	for _, l := range detail {
		b.WriteString("\n" + l)
	}
	return b.String()
}

// detail describes the selected group in a few lines.
func (s *diagnosisScreen) detail(m *Model, w int) []string {
	g, ok := s.selected()
	if !ok {
		return nil
	}
	out := []string{"", m.st.Bold.Render(fit("  "+g.Title, w)), m.st.Dim.Render(fit("  "+g.Hint, w))}
	if g.Command != "" {
		out = append(out, fit("  $ "+g.Command, w))
	}
	out = append(out, m.st.Dim.Render(fit("  query: "+g.Query, w)))
	if len(g.Sample) > 0 {
		out = append(out, m.st.Dim.Render(fit("  e.g. "+strings.Join(g.Sample, ", "), w)))
	}
	return out
}

// openDiagnosis is :diagnose [after].
func openDiagnosis(m *Model, arg string) tea.Cmd {
	after := m.opts.StuckAfter
	if arg = strings.TrimSpace(arg); arg != "" {
		d, err := parseAge(arg)
		if err != nil {
			return m.flashErr("diagnose: %v", err)
		}
		after = d
	}
	return m.jump(newDiagnosis(m, after))
}
