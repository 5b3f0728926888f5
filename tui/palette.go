package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// paletteCmd is one `:` command.
type paletteCmd struct {
	name string
	args string // shown after the name in suggestions
	desc string
	run  func(m *Model, arg string) tea.Cmd
}

// paletteCommands is the registry of `:` commands (saved views are added
// by name when the palette opens).
func paletteCommands() []paletteCmd {
	return []paletteCmd{
		{name: "approvals", desc: "pending approvals, oldest first", run: func(m *Model, _ string) tea.Cmd { return m.jump(newApprovals(m)) }},
		{name: "failed", desc: "failed executions", run: func(m *Model, _ string) tea.Cmd { return m.jump(newRunList(m, listFailed, "")) }},
		{name: "stuck", args: "[after]", desc: "no progress, approvals aside (default " + compactDuration(defaultStuckAfter) + ")", run: openStuck},
		{name: "running", desc: "running executions", run: func(m *Model, _ string) tea.Cmd { return m.jump(newRunList(m, listRunning, "")) }},
		{name: "queues", desc: "task queues: workers, backlog, load", run: func(m *Model, _ string) tea.Cmd { return m.jump(newQueues(m)) }},
		{name: "pulse", desc: "live dashboard: rates, latencies, queues, lag", run: func(m *Model, _ string) tea.Cmd { return m.jump(newPulse(m)) }},
		{name: "audit", desc: "the audit trail: actions, refusals, forgeries", run: func(m *Model, _ string) tea.Cmd { return m.jump(newAudit(m)) }},
		{name: "executions", desc: "all executions (home), no search", run: func(m *Model, _ string) tea.Cmd {
			// Home is every execution: a fresh list, not the first one with
			// whatever it was last searched for.
			m.stack = []screen{newRunList(m, listExecutions, "")}
			return m.top().load(m)
		}},
		{name: "save", args: "<name>", desc: "save the current search as a shared view", run: saveView},
		{name: "view", args: "<name>", desc: "open a saved view", run: openView},
		{name: "diff", args: "[id[@run]]", desc: "diff two runs' histories (the two marked, or this run and another)", run: diffCommand},
		{name: "mouse", desc: "toggle mouse support", run: func(m *Model, _ string) tea.Cmd {
			m.mouse = !m.mouse
			if m.mouse {
				return m.flashOK("mouse on: click selects and sorts, the wheel scrolls")
			}
			return m.flashOK("mouse off")
		}},
		{name: "help", desc: "keys of this screen", run: func(m *Model, _ string) tea.Cmd { m.modal = newHelpModal(m); return nil }},
		{name: "quit", desc: "leave the console", run: func(m *Model, _ string) tea.Cmd { return tea.Quit }},
		{name: "schedules", desc: "schedules: pause, unpause, trigger, delete, runs", run: openSchedules}, // schedules.go
		{name: "diagnose", args: "[after]", desc: "stuck runs grouped by cause, with the action for each group", run: openDiagnosis},
		{name: "notifications", desc: "notification rules: their last deliveries and failures", run: func(m *Model, _ string) tea.Cmd { return m.jump(newNotifications(m)) }},
	}
}

func openStuck(m *Model, arg string) tea.Cmd {
	l := newRunList(m, listStuck, "")
	if arg = strings.TrimSpace(arg); arg != "" {
		d, err := parseAge(arg)
		if err != nil {
			return m.flashErr("stuck: %v", err)
		}
		l.stuckAfter = d
		l.name = "stuck > " + compactDuration(d)
	}
	return m.jump(l)
}

// parseAge accepts Go durations plus days: 90s, 15m, 2h, 3d.
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration like 30m, 2h or 3d", s)
	}
	return d, nil
}

func saveView(m *Model, name string) tea.Cmd {
	name = strings.TrimSpace(name)
	l, ok := m.top().(*runList)
	switch {
	case name == "":
		return m.flashErr("save: name the view, e.g. :save stuck-orders")
	case strings.ContainsAny(name, " \t"):
		return m.flashErr("save: a view name has no spaces")
	case !ok:
		return m.flashErr("save: open a list of executions first")
	}
	q := l.effectiveQuery(m) // the stuck condition is relative (now-10m): it stays true in a view
	acts, ctx, to := m.acts, m.ctx, m.opts.RequestTimeout
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, to)
		defer cancel()
		return viewSavedMsg{name: name, err: storeView(c, acts, name, q)}
	}
}

func openView(m *Model, name string) tea.Cmd {
	name = strings.TrimSpace(name)
	for _, v := range m.views {
		if v.Name == name {
			l := newRunList(m, listView, v.Query)
			l.name = "view " + v.Name
			return m.jump(l)
		}
	}
	return m.flashErr("no saved view %q (:save <name> saves the current search)", name)
}

// palette is the `:` command line with completion.
type palette struct {
	in  lineEdit
	sel int
}

func newPalette(m *Model) *palette { return &palette{} }

// candidate is a completion: a command or a saved view.
type candidate struct {
	text, desc string
}

func (p *palette) candidates(m *Model) []candidate {
	word, _, hasArg := strings.Cut(strings.TrimLeft(p.in.value(), " "), " ")
	var out []candidate
	if hasArg && word == "view" {
		_, arg, _ := strings.Cut(p.in.value(), " ")
		for _, v := range m.views {
			if strings.HasPrefix(v.Name, strings.TrimSpace(arg)) {
				out = append(out, candidate{"view " + v.Name, v.Query})
			}
		}
		return out
	}
	if hasArg {
		return nil
	}
	for _, c := range paletteCommands() {
		if strings.HasPrefix(c.name, word) {
			text := c.name
			if c.args != "" {
				text += " " + c.args
			}
			out = append(out, candidate{text, c.desc})
		}
	}
	for _, v := range m.views {
		if strings.HasPrefix(v.Name, word) && !isCommand(v.Name) {
			out = append(out, candidate{v.Name, "view: " + v.Query})
		}
	}
	return out
}

func isCommand(name string) bool {
	for _, c := range paletteCommands() {
		if c.name == name {
			return true
		}
	}
	return false
}

func (p *palette) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	cs := p.candidates(m)
	switch k.String() {
	case "esc":
		m.closeModal()
		return nil
	case "up", "ctrl+p":
		p.sel = max(p.sel-1, 0)
		return nil
	case "down", "ctrl+n":
		p.sel = min(p.sel+1, max(len(cs)-1, 0))
		return nil
	case "tab":
		if p.sel < len(cs) {
			text, _, _ := strings.Cut(cs[p.sel].text, " <")
			text, _, _ = strings.Cut(text, " [")
			p.in.set(text)
			if text == "view" || text == "save" || text == "stuck" {
				p.in.insert(" ")
			}
			p.sel = 0
		}
		return nil
	case "enter":
		return p.run(m, cs)
	}
	if p.in.handle(k) {
		p.sel = 0
	}
	return nil
}

func (p *palette) paste(s string) { p.in.insert(s) }

// run executes what was typed; a prefix runs the selected completion.
func (p *palette) run(m *Model, cs []candidate) tea.Cmd {
	line := strings.TrimSpace(p.in.value())
	m.closeModal()
	if line == "" {
		return nil
	}
	word, arg, _ := strings.Cut(line, " ")
	for _, c := range paletteCommands() {
		if c.name == word {
			return c.run(m, arg)
		}
	}
	for _, v := range m.views {
		if v.Name == line {
			return openView(m, v.Name)
		}
	}
	if p.sel < len(cs) && !strings.Contains(line, " ") {
		text, _, _ := strings.Cut(cs[p.sel].text, " <")
		text, _, _ = strings.Cut(text, " [")
		word, arg, _ := strings.Cut(text, " ")
		for _, c := range paletteCommands() {
			if c.name == word {
				return c.run(m, arg)
			}
		}
		return openView(m, text)
	}
	return m.flashErr("unknown command %q (: then tab lists them)", line)
}

// line is the palette's input line, in the footer.
func (p *palette) line(m *Model, w int) string {
	return m.st.Key.Render(": ") + p.in.view(&m.st, w-2, true)
}

// suggestions is the completion box drawn above the input line.
func (p *palette) suggestions(m *Model, w int) string {
	cs := p.candidates(m)
	if len(cs) == 0 {
		return ""
	}
	cs = cs[:min(len(cs), 10)]
	tw := 0
	for _, c := range cs {
		tw = max(tw, lipgloss.Width(c.text))
	}
	width := min(w-4, 72)
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte('\n')
		}
		line := fit(c.text, tw) + "  " + m.st.Desc.Render(fit(c.desc, max(width-tw-2, 0)))
		if i == p.sel {
			line = m.st.Selected.Render(fit(c.text, tw)) + "  " + m.st.Desc.Render(fit(c.desc, max(width-tw-2, 0)))
		}
		b.WriteString(line)
	}
	return m.st.Dialog.Render(b.String())
}
