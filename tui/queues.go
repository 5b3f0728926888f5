package tui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// queuesScreen shows each task queue's announced workers, stored tasks
// and the age of the oldest, its running runs, and how many of them are
// retrying an activity or failing their workflow task (a worker to look
// at); queues with work and no worker come first, flagged. Enter lists the
// queue's running runs.
type queuesScreen struct {
	id      int
	rows    []queueRow
	cursor  int
	err     error
	loading bool
	// pulseErr: the workers and backlogs could not be read (an engine
	// without the pulse API); the counts still show.
	pulseErr error
}

type queueRow struct {
	name                       string
	health                     searchapi.QueueHealth
	running, retrying, failing uint64
}

func newQueues(m *Model) *queuesScreen { return &queuesScreen{id: m.id()} }

func (s *queuesScreen) sid() int      { return s.id }
func (s *queuesScreen) acts() bool    { return false }
func (s *queuesScreen) crumb() string { return "queues" }

func (s *queuesScreen) load(m *Model) tea.Cmd {
	s.loading = true
	return s.refresh(m)
}

func (s *queuesScreen) resize(m *Model) tea.Cmd { return nil }

func (s *queuesScreen) refresh(m *Model) tea.Cmd {
	b, ctx, timeout, id := m.b, m.ctx, m.opts.RequestTimeout, s.id
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		count := func(q string) (searchapi.CountResult, error) {
			return b.Count(c, searchapi.CountRequest{Query: q, GroupBy: "task_queue"})
		}
		msg := queuesMsg{addr: addr{id}}
		// Without the pulse API (an older engine) the counts still show.
		msg.pulse, msg.pulseErr = b.Pulse(c, searchapi.PulseRequest{Seconds: 1})
		if msg.running, msg.err = count("status:running"); msg.err != nil {
			return msg
		}
		if msg.retrying, msg.err = count("status:running waiting_on:retry"); msg.err != nil {
			return msg
		}
		msg.failing, msg.err = count("status:running waiting_on:task_failure")
		return msg
	}
}

func (s *queuesScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	q, ok := msg.(queuesMsg)
	if !ok {
		return nil
	}
	s.loading = false
	if q.err != nil {
		s.err = q.err
		return nil
	}
	s.err = nil
	s.pulseErr = q.pulseErr
	if q.pulseErr == nil {
		m.onHealth(healthMsg{pulse: q.pulse, at: m.now()})
	}
	by := map[string]*queueRow{}
	get := func(n string) *queueRow {
		if r, ok := by[n]; ok {
			return r
		}
		r := &queueRow{name: n, health: searchapi.QueueHealth{Queue: n}}
		by[n] = r
		return r
	}
	for _, h := range q.pulse.Queues {
		get(h.Queue).health = h
	}
	for _, g := range q.running.Groups {
		r := get(g.Value)
		r.running = g.Count
		// The index's count is newer than the engine's (every 5 s).
		r.health.Running = g.Count
		r.health.NoWorker = r.health.NoWorker || q.pulseErr == nil && g.Count > 0 && r.health.WorkflowPollers == 0
	}
	for _, g := range q.retrying.Groups {
		get(g.Value).retrying = g.Count
	}
	for _, g := range q.failing.Groups {
		get(g.Value).failing = g.Count
	}
	s.rows = s.rows[:0]
	for _, r := range by {
		s.rows = append(s.rows, *r)
	}
	sort.Slice(s.rows, func(i, j int) bool {
		if a, b := s.rows[i].health.NoWorker, s.rows[j].health.NoWorker; a != b {
			return a
		}
		if s.rows[i].running != s.rows[j].running {
			return s.rows[i].running > s.rows[j].running
		}
		return s.rows[i].name < s.rows[j].name
	})
	s.cursor = min(s.cursor, max(len(s.rows)-1, 0))
	return nil
}

func (s *queuesScreen) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	ks := m.keys
	switch {
	case key.Matches(k, ks.Down):
		s.cursor = min(s.cursor+1, max(len(s.rows)-1, 0))
	case key.Matches(k, ks.Up):
		s.cursor = max(s.cursor-1, 0)
	case key.Matches(k, ks.Top):
		s.cursor = 0
	case key.Matches(k, ks.Bottom):
		s.cursor = max(len(s.rows)-1, 0)
	case key.Matches(k, ks.Open):
		if s.cursor < len(s.rows) {
			l := newRunList(m, listRunning, "task_queue:"+strconv.Quote(s.rows[s.cursor].name))
			l.name = "queue " + s.rows[s.cursor].name
			return m.push(l), true
		}
	default:
		return nil, false
	}
	return nil, true
}

func (s *queuesScreen) help(k keyMap) []helpGroup {
	return []helpGroup{{"Queues", []key.Binding{k.Up, k.Down, k.Open}}, k.globalGroup()}
}

func (s *queuesScreen) footer(k keyMap) []key.Binding {
	return []key.Binding{k.Open, k.Back, k.Palette}
}

func (s *queuesScreen) header(m *Model) string {
	if s.err != nil {
		return m.st.Error.Render("queues: " + errorText(s.err))
	}
	h := m.st.Bold.Render(thousands(len(s.rows))) + m.st.Dim.Render(" task queues with workers, tasks or running executions")
	idle := 0
	for _, r := range s.rows {
		if r.health.NoWorker {
			idle++
		}
	}
	if idle > 0 {
		h += m.st.Dim.Render(" · ") + m.st.Fail.Render(fmt.Sprintf("✗ %d without a worker", idle))
	}
	if s.pulseErr != nil {
		h += m.st.Warn.Render(" · workers unknown: " + errorText(s.pulseErr))
	}
	return h
}

func (s *queuesScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	const countW = 9
	// The health columns (workers, tasks, oldest) as :pulse shows them,
	// then the index's counts.
	hw := min(w-3*countW, 2+queueNameMax+queueColsW)
	b.WriteString(queueTableHeader(m, hw) + m.st.ColHeader.Render(fitRight("RUNNING", countW)+fitRight("RETRYING", countW)+fitRight("FAILING", countW)))
	if s.loading {
		return b.String() + "\n" + m.st.Dim.Render("  loading…")
	}
	for i, r := range s.rows {
		if i >= h-1 {
			break
		}
		counts := fitRight(thousands(r.running), countW) + fitRight(thousands(r.retrying), countW) + fitRight(thousands(r.failing), countW)
		b.WriteByte('\n')
		if i == s.cursor {
			line := queueHealthPlain(r.health, hw)
			b.WriteString(m.st.Selected.Render("▶" + line[1:] + counts))
			continue
		}
		b.WriteString(queueHealthLine(m, r.health, hw) + counts)
	}
	return b.String()
}
