package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// pulseEvery is how often :pulse asks for new figures; the engine computes
// them at most once a second whatever the number of consoles.
const pulseEvery = time.Second

// pulseSeconds is how much of the series :pulse asks for: more than the
// widest sparkline it draws.
const pulseSeconds = 240

// pulseMsg answers :pulse's own request; pulseTickMsg asks for the next.
type (
	pulseMsg struct {
		addr
		healthMsg
	}
	pulseTickMsg struct{ addr }
)

// pulseScreen is :pulse: the engine's health on one screen, polled every
// second while it is on top.
type pulseScreen struct {
	id      int
	p       *searchapi.Pulse
	err     error
	polling bool // a request or a tick is out: refresh adds none
}

func newPulse(m *Model) *pulseScreen { return &pulseScreen{id: m.id()} }

func (s *pulseScreen) sid() int                      { return s.id }
func (s *pulseScreen) acts() bool                    { return false }
func (s *pulseScreen) crumb() string                 { return "pulse" }
func (s *pulseScreen) resize(m *Model) tea.Cmd       { return nil }
func (s *pulseScreen) load(m *Model) tea.Cmd         { return s.refresh(m) }
func (s *pulseScreen) footer(k keyMap) []key.Binding { return []key.Binding{k.Back, k.Palette} }

func (s *pulseScreen) help(k keyMap) []helpGroup {
	return []helpGroup{{"Pulse (refreshes every second)", []key.Binding{k.Refresh}}, k.globalGroup()}
}

func (s *pulseScreen) refresh(m *Model) tea.Cmd {
	if s.polling {
		return nil
	}
	s.polling = true
	id, now := s.id, m.now()
	return fetch(m, m.readPulse, func(p searchapi.Pulse, err error) tea.Msg {
		return pulseMsg{addr: addr{id}, healthMsg: healthMsg{pulse: p, at: now, err: err}}
	})
}

func (s *pulseScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pulseMsg:
		s.err = msg.err
		if msg.err == nil {
			s.p = &msg.pulse
			m.onHealth(msg.healthMsg)
		}
		id := s.id
		return m.tick(pulseEvery, func(time.Time) tea.Msg { return pulseTickMsg{addr{id}} })
	case pulseTickMsg:
		s.polling = false
		if m.top() != screen(s) {
			return nil // hidden: refresh starts polling again when revealed
		}
		return s.refresh(m)
	}
	return nil
}

func (s *pulseScreen) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) { return nil, false }

func (s *pulseScreen) header(m *Model) string {
	switch {
	case s.err != nil:
		return m.st.Error.Render("pulse: " + errorText(s.err))
	case s.p == nil:
		return m.st.Dim.Render("loading the engine's pulse…")
	}
	p := s.p
	idle := 0
	for _, q := range p.Queues {
		if q.NoWorker {
			idle++
		}
	}
	h := m.st.Bold.Render(thousands(p.Workers)) + m.st.Dim.Render(" workers · ") + m.st.Bold.Render(thousands(len(p.Queues))) + m.st.Dim.Render(" queues")
	if idle > 0 {
		h += m.st.Dim.Render(" · ") + m.st.Fail.Render(fmt.Sprintf("✗ %d without a worker", idle))
	}
	return h + m.st.Dim.Render(" · as of "+p.At.UTC().Format("15:04:05"))
}

// sparks are the eight heights of a sparkline cell, lowest first; an empty
// second is a space, so a flat zero line reads as nothing happening.
var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last w values of v, scaled to their maximum.
func sparkline(v []uint32, w int) string {
	if w <= 0 {
		return ""
	}
	v = v[max(len(v)-w, 0):]
	var top uint32
	for _, x := range v {
		top = max(top, x)
	}
	var b strings.Builder
	b.Grow(3 * w)
	for range w - len(v) {
		b.WriteByte(' ')
	}
	for _, x := range v {
		switch {
		case x == 0:
			b.WriteByte(' ')
		default:
			b.WriteRune(sparks[min(int(uint64(x)*uint64(len(sparks)-1)/uint64(top)), len(sparks)-1)])
		}
	}
	return b.String()
}

// rate is the mean per second over the last n seconds of v.
func rate(v []uint32, n int) float64 {
	v = v[max(len(v)-n, 0):]
	if len(v) == 0 {
		return 0
	}
	var t uint64
	for _, x := range v {
		t += uint64(x)
	}
	return float64(t) / float64(len(v))
}

// msText is a latency with the precision that matters at its size.
func msText(ms float64) string {
	switch {
	case ms <= 0:
		return "–"
	case ms < 10:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	}
	return preciseDuration(msDuration(ms))
}

// stuckAfterText is the engine's threshold as the console writes
// durations (10m, not 10m0s).
func stuckAfterText(s string) string {
	if d, err := time.ParseDuration(s); err == nil {
		return compactDuration(d)
	}
	return s
}

func (s *pulseScreen) view(m *Model, w, h int) string {
	if s.p == nil {
		return ""
	}
	p, st := s.p, &m.st
	var lines []string
	add := func(l string) { lines = append(lines, l) }

	// Throughput: one sparkline cell per second, newest on the right.
	const labelW, numW = 12, 9
	sparkW := max(w-2-labelW-2*numW-1, 10)
	add(st.ColHeader.Render("  " + fit(fmt.Sprintf("PER SECOND (last %s)", compactDuration(time.Duration(min(sparkW, len(p.Started)))*time.Second)), labelW+sparkW+1) + fitRight("LAST 10S", numW) + fitRight("LAST 1M", numW)))
	for _, r := range []struct {
		name string
		v    []uint32
		bad  bool
	}{{"started", p.Started, false}, {"completed", p.Completed, false}, {"failed", p.Failed, true}, {"act. fails", p.ActivityFailures, true}} {
		line := sparkline(r.v, sparkW)
		if r.bad && rate(r.v, len(r.v)) > 0 {
			line = st.Fail.Render(line)
		} else {
			line = st.OK.Render(line)
		}
		add("  " + fit(r.name, labelW) + line + " " + fitRight(fmt.Sprintf("%.1f", rate(r.v, 10)), numW) + fitRight(fmt.Sprintf("%.1f", rate(r.v, 60)), numW))
	}
	add("")
	add(st.ColHeader.Render("  " + fit("LATENCY (last minute)", 32) + fitRight("P50", 10) + fitRight("P99", 10) + fitRight("COUNT", 10)))
	for _, r := range []struct {
		name string
		l    searchapi.Latency
	}{{"run start → close", p.RunDuration}, {"activity schedule → start", p.ScheduleToStart}, {"workflow task schedule → start", p.WorkflowScheduleToStart}} {
		add("  " + fit(r.name, 32) + fitRight(msText(r.l.P50MS), 10) + fitRight(msText(r.l.P99MS), 10) + fitRight(thousands(r.l.Count), 10))
	}
	add("")
	lag := st.OK.Render("index caught up")
	if p.IndexLag.Behind > 0 {
		lag = st.Warn.Render(fmt.Sprintf("index %s behind (%s batches)", msText(p.IndexLag.LagMS), thousands(p.IndexLag.Behind)))
	}
	// Stuck runs by cause; runs on a queue without a worker are counted
	// apart, however young (nothing will move them).
	// Approval waits are set aside as :stuck does: a person, not the
	// system, is what they wait on.
	after := stuckAfterText(p.StuckAfter)
	var parts []string
	var orphaned, onPerson uint64
	for _, g := range p.Stuck {
		switch g.Value {
		case "no_worker":
			orphaned = g.Count
		case "approval":
			onPerson = g.Count
		default:
			parts = append(parts, strings.ReplaceAll(g.Value, "_", " ")+" "+thousands(g.Count))
		}
	}
	stuck := st.OK.Render("no run stuck > " + after)
	if len(parts) > 0 {
		stuck = st.Warn.Render("stuck > "+after+": ") + strings.Join(parts, " · ")
	}
	if onPerson > 0 {
		stuck += st.Dim.Render(fmt.Sprintf(" · %s waiting on a person > %s", thousands(onPerson), after))
	}

	add(fit("  "+lag+st.Dim.Render(" · "+thousands(p.IndexLag.Docs)+" runs indexed"), w))
	add(fit("  "+stuck, w))
	if orphaned > 0 {
		add(fit("  "+st.Fail.Render(fmt.Sprintf("✗ %s running on queues no worker polls", thousands(orphaned))), w))
	}
	for _, e := range p.Errors {
		add(st.Error.Render(fit("  ! "+e, w)))
	}
	add("")
	add(queueTableHeader(m, w))
	rows := h - len(lines)
	for i, q := range p.Queues {
		if i >= rows {
			break
		}
		if i == rows-1 && len(p.Queues) > rows {
			add(st.Dim.Render(fmt.Sprintf("  … %d more queues (:queues)", len(p.Queues)-i)))
			break
		}
		add(queueHealthLine(m, q, w))
	}
	s.workerLines(m, w, h, add, len(lines))
	return strings.Join(lines, "\n")
}

// workerLines lists the announced workers when the screen has room left
// (a tall terminal): who polls what, how busy, which version.
func (s *pulseScreen) workerLines(m *Model, w, h int, add func(string), used int) {
	var n int
	for _, q := range s.p.Queues {
		n += len(q.Workers)
	}
	if n == 0 || h-used < 4 {
		return
	}
	add("")
	add(m.st.ColHeader.Render("  " + fit("WORKER", 24) + fit("QUEUE", 16) + fit("VERSION", 12) + fitRight("WF SLOTS", 10) + fitRight("ACT SLOTS", 11) + fitRight("SEEN", 10)))
	rows := h - used - 2
	slots := func(s [2]int) string {
		if s[1] == 0 {
			return "–"
		}
		return fmt.Sprintf("%d/%d", s[0], s[1])
	}
	for _, q := range s.p.Queues {
		for _, wk := range q.Workers {
			if rows == 0 {
				return
			}
			rows--
			add(fit("  "+fit(wk.Identity, 23)+" "+fit(q.Queue, 15)+" "+fit(wk.Version, 12)+fitRight(slots(wk.WorkflowSlots), 10)+fitRight(slots(wk.ActivitySlots), 11)+
				fitRight(compactDuration(s.p.At.Sub(wk.LastSeen).Truncate(time.Second))+" ago", 10), w))
		}
	}
}

// The queue columns :pulse and :queues share: name (at most
// queueNameMax wide: the figures stay near it), then these.
const (
	queueColsW   = 9 + 10 + 11 + 9
	queueNameMax = 40
)

func queueNameW(w int) int { return min(w-2-queueColsW, queueNameMax) }

func queueTableHeader(m *Model, w int) string {
	return m.st.ColHeader.Render(fit("  "+fit("TASK QUEUE", queueNameW(w))+fitRight("WORKERS", 9)+fitRight("WF TASKS", 10)+fitRight("ACT TASKS", 11)+fitRight("OLDEST", 9), w))
}

// queueHealthLine is one queue's workers and backlog; a queue with work
// and no worker says so in words, not colour alone.
func queueHealthLine(m *Model, q searchapi.QueueHealth, w int) string {
	line := queueHealthPlain(q, w)
	if q.NoWorker {
		return m.st.Fail.Render(line)
	}
	return line
}

// queueHealthPlain is queueHealthLine unstyled (the selected row is
// styled as a whole).
func queueHealthPlain(q searchapi.QueueHealth, w int) string {
	workers := thousands(max(q.WorkflowPollers, q.ActivityPollers))
	if q.NoWorker {
		workers = "✗ none"
	}
	oldest := ""
	if q.OldestTaskMS > 0 {
		oldest = compactDuration(msDuration(q.OldestTaskMS))
	}
	return fit("  "+fit(q.Queue, queueNameW(w))+fitRight(workers, 9)+fitRight(thousands(q.WorkflowTasks), 10)+fitRight(thousands(q.ActivityTasks), 11)+fitRight(oldest, 9), w)
}
