package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
)

// ScheduleLister is what the :schedules view reads; a Backend that has it
// (the CLI's does) gets the view.
type ScheduleLister interface {
	Schedules(ctx context.Context) ([]*engine.ScheduleDescription, error)
}

// schedulesScreen lists the schedules (issue 17): state, spec, workflow,
// overlap, next fire, counts. p pauses (with a note), u unpauses, t
// triggers, D deletes (typing the id to confirm), enter lists the runs the
// schedule started (scheduled_by:<id>). Every write is a catalog action
// through the console's Actions, so read-only refuses it in one place.
type schedulesScreen struct {
	id      int
	rows    []*engine.ScheduleDescription
	cursor  int
	err     error
	loading bool
}

// scheduleKeys are the :schedules view's own keys.
var scheduleKeys = struct{ Pause, Unpause, Trigger, Delete key.Binding }{
	Pause:   key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
	Unpause: key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "unpause")),
	Trigger: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "trigger now")),
	Delete:  key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "delete")),
}

type schedulesMsg struct {
	addr
	rows []*engine.ScheduleDescription
	err  error
}

type scheduleDoneMsg struct {
	addr
	what string
	err  error
}

func openSchedules(m *Model, _ string) tea.Cmd {
	if _, ok := m.b.(ScheduleLister); !ok {
		return m.flashErr("schedules: this console's backend cannot list schedules")
	}
	return m.jump(&schedulesScreen{id: m.id()})
}

func (s *schedulesScreen) sid() int                { return s.id }
func (s *schedulesScreen) acts() bool              { return true }
func (s *schedulesScreen) crumb() string           { return "schedules" }
func (s *schedulesScreen) resize(m *Model) tea.Cmd { return nil }
func (s *schedulesScreen) load(m *Model) tea.Cmd   { s.loading = true; return s.refresh(m) }
func (s *schedulesScreen) footer(k keyMap) []key.Binding {
	sk := scheduleKeys
	return []key.Binding{k.Open, sk.Pause, sk.Unpause, sk.Trigger, sk.Delete, k.Back}
}

func (s *schedulesScreen) help(k keyMap) []helpGroup {
	sk := scheduleKeys
	return []helpGroup{{"Schedules", []key.Binding{k.Up, k.Down, k.Open, sk.Pause, sk.Unpause, sk.Trigger, sk.Delete, k.Refresh}}, k.globalGroup()}
}

func (s *schedulesScreen) refresh(m *Model) tea.Cmd {
	b, ctx, timeout, id := m.b, m.ctx, m.opts.RequestTimeout, s.id
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		rows, err := b.(ScheduleLister).Schedules(c)
		return schedulesMsg{addr: addr{id}, rows: rows, err: err}
	}
}

func (s *schedulesScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case schedulesMsg:
		s.loading, s.err = false, msg.err
		if msg.err == nil {
			s.rows = msg.rows
			s.cursor = min(s.cursor, max(len(s.rows)-1, 0))
		}
	case scheduleDoneMsg:
		if msg.err != nil {
			return tea.Batch(m.flashErr("%s: %s", msg.what, errorText(msg.err)), s.refresh(m))
		}
		return tea.Batch(m.flashOK("%s", msg.what), s.refresh(m))
	}
	return nil
}

func (s *schedulesScreen) selected() *engine.ScheduleDescription {
	if s.cursor < len(s.rows) {
		return s.rows[s.cursor]
	}
	return nil
}

func (s *schedulesScreen) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	ks, sk, sel := m.keys, scheduleKeys, s.selected()
	switch {
	case key.Matches(k, ks.Down):
		s.cursor = min(s.cursor+1, max(len(s.rows)-1, 0))
	case key.Matches(k, ks.Up):
		s.cursor = max(s.cursor-1, 0)
	case key.Matches(k, ks.Refresh):
		return s.refresh(m), true
	case sel == nil:
		return nil, false
	case key.Matches(k, ks.Open):
		l := newRunList(m, listExecutions, "scheduled_by:"+strconv.Quote(sel.Schedule.ID))
		l.name = "schedule " + sel.Schedule.ID
		return m.push(l), true
	case key.Matches(k, sk.Pause):
		m.modal = &scheduleDialog{screen: s, act: engine.ActSchedulePause, id: sel.Schedule.ID}
	case key.Matches(k, sk.Unpause):
		m.modal = &scheduleDialog{screen: s, act: engine.ActScheduleUnpause, id: sel.Schedule.ID}
	case key.Matches(k, sk.Delete):
		m.modal = &scheduleDialog{screen: s, act: engine.ActScheduleDelete, id: sel.Schedule.ID}
	case key.Matches(k, sk.Trigger):
		return s.perform(m, engine.ActScheduleTrigger, sel.Schedule.ID, ""), true
	default:
		return nil, false
	}
	return nil, true
}

// perform runs a schedule action through the console's Actions.
func (s *schedulesScreen) perform(m *Model, act, id, note string) tea.Cmd {
	acts, ctx, timeout, sid := m.acts, m.ctx, m.opts.RequestTimeout, s.id
	what := strings.TrimPrefix(act, "schedule-") + " " + id
	if err := acts.Check(operator.Request{Action: act}); err != nil {
		return m.flashErr("%s: %s", what, errorText(err))
	}
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		p := operator.Params{Name: id, Reason: note}
		if act == engine.ActScheduleTrigger {
			p.Input, _ = json.Marshal(engine.TriggerRequest{})
		}
		out, err := acts.Perform(c, operator.Request{Action: act, Params: p})
		if err == nil && out.Detail != "" {
			what = out.Detail
		}
		return scheduleDoneMsg{addr: addr{sid}, what: what, err: err}
	}
}

func (s *schedulesScreen) header(m *Model) string {
	if s.err != nil {
		return m.st.Error.Render("schedules: " + errorText(s.err))
	}
	paused := 0
	for _, d := range s.rows {
		if d.Schedule.Paused {
			paused++
		}
	}
	h := m.st.Bold.Render(thousands(len(s.rows))) + m.st.Dim.Render(" schedules")
	if paused > 0 {
		h += m.st.Dim.Render(" · ") + m.st.Warn.Render(fmt.Sprintf("⏸ %d paused", paused))
	}
	return h
}

func (s *schedulesScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	const idW, stateW, nextW, countW = 22, 10, 20, 8
	rest := max(w-idW-stateW-nextW-countW-4, 10)
	b.WriteString(m.st.ColHeader.Render("  " + fit("ID", idW) + fit("STATE", stateW) + fit("NEXT FIRE", nextW) + fitRight("STARTED", countW) + " " + fit("WORKFLOW · SPEC · NOTE", rest)))
	if s.loading {
		return b.String() + "\n" + m.st.Dim.Render("  loading…")
	}
	if len(s.rows) == 0 {
		return b.String() + "\n" + m.st.Dim.Render("  no schedules (foreman schedule create …)")
	}
	for i, d := range s.rows {
		if i >= h-1 {
			break
		}
		sch := d.Schedule
		state := "▶ active"
		if sch.Paused {
			state = "⏸ paused"
		}
		next := "-"
		if len(d.NextFires) > 0 {
			next = d.NextFires[0].Local().Format(time.DateTime)
		}
		what := sch.Action.WorkflowType + " · " + scheduleSpecLine(sch.Spec)
		if sch.Paused && sch.Note != "" {
			what += " · " + sch.Note
		}
		line := fit(sch.ID, idW) + fit(state, stateW) + fit(next, nextW) + fitRight(thousands(int(d.Actions)), countW) + " " + fit(what, rest)
		b.WriteByte('\n')
		if i == s.cursor {
			b.WriteString(m.st.Selected.Render("▶ " + line))
		} else {
			b.WriteString("  " + line)
		}
	}
	return b.String()
}

// scheduleSpecLine says when a schedule fires, briefly.
func scheduleSpecLine(s engine.ScheduleSpec) string {
	var parts []string
	for _, c := range s.Cron {
		parts = append(parts, c)
	}
	for _, iv := range s.Intervals {
		parts = append(parts, "every "+iv.Every.String())
	}
	out := strings.Join(parts, ", ")
	if s.TimeZone != "" {
		out += " " + s.TimeZone
	}
	return out
}

// scheduleDialog asks for a pause or unpause note, or, to delete, for the
// schedule's id typed out.
type scheduleDialog struct {
	screen *schedulesScreen
	act    string
	id     string
	in     lineEdit
	err    string
}

func (d *scheduleDialog) destructive() bool { return d.act == engine.ActScheduleDelete }

func (d *scheduleDialog) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.closeModal()
		return nil
	case "enter":
		if d.destructive() && strings.TrimSpace(d.in.value()) != d.id {
			d.err = "type the schedule's id to delete it: " + d.id
			return nil
		}
		m.closeModal()
		note := ""
		if !d.destructive() {
			note = strings.TrimSpace(d.in.value())
		}
		return d.screen.perform(m, d.act, d.id, note)
	}
	d.in.handle(k)
	d.err = ""
	return nil
}

func (d *scheduleDialog) paste(s string) { d.in.insert(s) }

func (d *scheduleDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	verb := strings.TrimPrefix(d.act, "schedule-")
	label, what := "Note (why)", "Pausing stops the fires until unpaused; fires missed meanwhile are not caught up."
	switch d.act {
	case engine.ActScheduleUnpause:
		what = "The schedule fires again from now on."
	case engine.ActScheduleDelete:
		label, what = "Type "+d.id+" to confirm", "Deletes the schedule; the runs it started go on."
	}
	parts := []string{st.Dim.Render(what), field(st, label, &d.in, iw, true)}
	if d.err != "" {
		parts = append(parts, wrapText(st.Error, d.err, iw))
	}
	parts = append(parts, st.Dim.Render("enter "+verb+" · esc close"))
	return dialogBox(st, strings.ToUpper(verb[:1])+verb[1:]+" schedule "+d.id+"?", parts, iw, h, d.destructive())
}
