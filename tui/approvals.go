package tui

import (
	"context"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// approvalsPreset matches runs with at least one pending approval (the
// approvals field lists their names; see the field table, visibility/fields).
var approvalsPreset = preset{qs: "approvals:*", temporal: "approvals IS NOT NULL"}

// maxApprovalRuns bounds the inbox; beyond it the header says so and a
// search narrows it.
const maxApprovalRuns = 1000

// approvalsScreen is the inbox: every pending approval across runs, oldest
// first, with its description and age. a approves, r rejects (with a
// comment); marked approvals are decided together.
type approvalsScreen struct {
	id      int
	query   string
	rows    []approvalRow
	total   uint64
	cursor  int
	offset  int // first row shown; the cursor drives it, as in runList
	marks   map[string]target
	err     error
	loading bool
	pending string // query being tried
	trying  bool
}

// approvalRow is one pending approval of one run.
type approvalRow struct {
	wf, run, typ string
	a            engine.PendingApproval
}

func (r approvalRow) key() string { return r.run + "\x00" + r.a.Name }

func (r approvalRow) target() target {
	return target{WorkflowID: r.wf, RunID: r.run, Approval: r.a.Name}
}

func newApprovals(m *Model) *approvalsScreen {
	return &approvalsScreen{id: m.id(), marks: map[string]target{}}
}

func (s *approvalsScreen) sid() int             { return s.id }
func (s *approvalsScreen) acts() bool           { return true }
func (s *approvalsScreen) currentQuery() string { return s.query }
func (s *approvalsScreen) crumb() string {
	if s.query != "" {
		return "approvals /" + oneLine(s.query)
	}
	return "approvals"
}

func (s *approvalsScreen) load(m *Model) tea.Cmd {
	s.loading = true
	return s.fetch(m, s.query, false)
}

func (s *approvalsScreen) refresh(m *Model) tea.Cmd { return s.fetch(m, s.query, false) }
func (s *approvalsScreen) resize(m *Model) tea.Cmd  { return nil }

func (s *approvalsScreen) tryQuery(m *Model, q string) tea.Cmd {
	s.pending, s.trying = q, true
	return s.fetch(m, q, true)
}

type approvalsReply struct {
	approvalsMsg
	query   string
	pending bool
}

func (s *approvalsScreen) fetch(m *Model, q string, pending bool) tea.Cmd {
	b, ctx, timeout, id := m.b, m.ctx, m.opts.RequestTimeout, s.id
	eq, _ := approvalsPreset.combine(q)
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := b.Search(c, searchapi.SearchRequest{Query: eq, Sort: []string{"approval_since", "run_id"}, Size: maxApprovalRuns})
		return approvalsReply{approvalsMsg: approvalsMsg{addr: addr{id}, res: res, err: err}, query: q, pending: pending}
	}
}

func (s *approvalsScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	r, ok := msg.(approvalsReply)
	if !ok {
		return nil
	}
	if r.pending {
		if !s.trying || r.query != s.pending {
			return nil
		}
		s.trying = false
		if r.err != nil {
			if qb, ok := m.modal.(*queryBar); ok {
				_, off := approvalsPreset.combine(r.query)
				qb.setError(shiftPos(r.err, off))
				return nil
			}
			return m.flashErr("search: %v", r.err)
		}
		s.query = r.query
		s.cursor, s.offset = 0, 0
		s.marks = map[string]target{}
		m.hist.add(r.query)
		if _, ok := m.modal.(*queryBar); ok {
			m.closeModal()
		}
	} else if r.query != s.query {
		return nil
	}
	s.loading = false
	if r.err != nil {
		s.err = r.err
		return nil
	}
	var sel string
	if s.cursor < len(s.rows) {
		sel = s.rows[s.cursor].key()
	}
	s.err, s.total = nil, r.res.Total
	s.rows = s.rows[:0]
	for _, d := range r.res.Hits {
		for _, a := range d.PendingApprovals {
			s.rows = append(s.rows, approvalRow{wf: d.WorkflowID, run: d.RunID, typ: d.Type, a: a})
		}
	}
	sort.SliceStable(s.rows, func(i, j int) bool { return s.rows[i].a.RequestedAt.Before(s.rows[j].a.RequestedAt) })
	// Keep the cursor on the same approval; drop marks of decided ones.
	live := map[string]bool{}
	for i, row := range s.rows {
		live[row.key()] = true
		if row.key() == sel {
			s.cursor = i
		}
	}
	for k := range s.marks {
		if !live[k] {
			delete(s.marks, k)
		}
	}
	s.cursor = min(s.cursor, max(len(s.rows)-1, 0))
	return nil
}

func (s *approvalsScreen) rowsShown(m *Model) int { return m.tableRows() }

func (s *approvalsScreen) move(m *Model, to int) {
	s.cursor = min(max(to, 0), max(len(s.rows)-1, 0))
	h := s.rowsShown(m)
	if s.cursor < s.offset {
		s.offset = s.cursor
	}
	if s.cursor >= s.offset+h {
		s.offset = s.cursor - h + 1
	}
}

func (s *approvalsScreen) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	ks := m.keys
	h := s.rowsShown(m)
	switch {
	case key.Matches(k, ks.Down):
		s.move(m, s.cursor+1)
	case key.Matches(k, ks.Up):
		s.move(m, s.cursor-1)
	case key.Matches(k, ks.PageDown):
		s.move(m, s.cursor+h)
	case key.Matches(k, ks.PageUp):
		s.move(m, s.cursor-h)
	case key.Matches(k, ks.HalfDown):
		s.move(m, s.cursor+h/2)
	case key.Matches(k, ks.HalfUp):
		s.move(m, s.cursor-h/2)
	case key.Matches(k, ks.Top):
		s.move(m, 0)
	case key.Matches(k, ks.Bottom):
		s.move(m, len(s.rows)-1)
	case key.Matches(k, ks.Open):
		if r, ok := s.selected(); ok {
			d := newDetail(m, r.wf, r.run)
			d.tab = tabPending
			return m.push(d), true
		}
	case key.Matches(k, ks.Mark):
		if r, ok := s.selected(); ok {
			if _, on := s.marks[r.key()]; on {
				delete(s.marks, r.key())
			} else {
				s.marks[r.key()] = r.target()
			}
			s.move(m, s.cursor+1)
		}
	case key.Matches(k, ks.Unmark):
		s.marks = map[string]target{}
	case key.Matches(k, ks.Search):
		m.modal = newQueryBar(m, s)
	case key.Matches(k, ks.Copy):
		if r, ok := s.selected(); ok {
			return m.copyText(r.wf, "workflow id "+r.wf), true
		}
	case key.Matches(k, ks.CopyJSON):
		if r, ok := s.selected(); ok {
			return m.copyJSON(r.a, "approval "+r.a.Name+" as JSON"), true
		}
	default:
		kind, ok := m.actionFor(k)
		if !ok {
			return nil, false
		}
		return s.act(m, kind), true
	}
	return nil, true
}

func (s *approvalsScreen) selected() (approvalRow, bool) {
	if s.cursor < 0 || s.cursor >= len(s.rows) {
		return approvalRow{}, false
	}
	return s.rows[s.cursor], true
}

// act decides the marked approvals, or the one under the cursor; other
// actions apply to the runs.
func (s *approvalsScreen) act(m *Model, kind actionKind) tea.Cmd {
	var sc scope
	if len(s.marks) > 0 {
		for _, t := range s.marks {
			sc.targets = append(sc.targets, t)
		}
		sortTargets(sc.targets)
	} else if r, ok := s.selected(); ok {
		sc.targets = []target{r.target()}
	}
	if kind != actApprove && kind != actReject {
		// Not a decision: act on the runs, once each.
		seen := map[string]bool{}
		var ts []target
		for _, t := range sc.targets {
			if !seen[t.RunID] {
				seen[t.RunID] = true
				ts = append(ts, target{WorkflowID: t.WorkflowID, RunID: t.RunID})
			}
		}
		sc.targets = ts
		if kind == actQuery && len(ts) == 1 {
			d := newDetail(m, ts[0].WorkflowID, ts[0].RunID)
			d.tab, d.query.editing = tabQuery, true
			return m.push(d)
		}
	}
	return m.beginAction(kind, sc)
}

func (s *approvalsScreen) help(k keyMap) []helpGroup {
	return []helpGroup{k.navGroup(),
		{"Inbox", []key.Binding{k.Approve, k.Reject, k.Mark, k.Unmark, k.Open, k.Search}},
		k.globalGroup()}
}

func (s *approvalsScreen) footer(k keyMap) []key.Binding {
	return []key.Binding{k.Approve, k.Reject, k.Mark, k.Open, k.Search, k.Back}
}

func (s *approvalsScreen) header(m *Model) string {
	switch {
	case s.err != nil:
		return m.st.Error.Render("approvals: " + errorText(s.err))
	case s.loading:
		return m.st.Dim.Render("loading approvals…")
	}
	h := m.st.Bold.Render(thousands(len(s.rows))) + m.st.Dim.Render(" pending approvals in ") + thousands(s.total) + m.st.Dim.Render(" runs, oldest first")
	if s.total > maxApprovalRuns {
		h += m.st.Warn.Render("  (showing the oldest " + thousands(maxApprovalRuns) + " runs: / narrows)")
	}
	if n := len(s.marks); n > 0 {
		h += "   " + m.st.Marked.Render(thousands(n)+" marked")
	}
	return h
}

var approvalColumns = []struct {
	title        string
	width, min   int
	weight, prio int
	right        bool
}{
	{"WAITING", 8, 0, 0, 100, true},
	{"WORKFLOW ID", 0, 14, 3, 100, false},
	{"APPROVAL", 0, 10, 2, 100, false},
	{"DESCRIPTION", 0, 12, 5, 90, false},
	{"APPROVERS", 0, 10, 1, 20, false},
	{"TYPE", 0, 8, 1, 10, false},
}

func (s *approvalsScreen) view(m *Model, w, h int) string {
	cols := make([]column, len(approvalColumns))
	for i, c := range approvalColumns {
		cols[i] = column{title: c.title, width: c.width, min: c.min, weight: c.weight, priority: c.prio, right: c.right}
	}
	keep, widths := layout(cols, w)
	var b strings.Builder
	b.WriteString("  ")
	for i, c := range keep {
		if i > 0 {
			b.WriteByte(' ')
		}
		t := c.title
		if i == 0 {
			t += "▲"
		}
		if c.right {
			b.WriteString(m.st.ColHeader.Render(fitRight(t, widths[i])))
		} else {
			b.WriteString(m.st.ColHeader.Render(fit(t, widths[i])))
		}
	}
	if !s.loading && len(s.rows) == 0 && s.err == nil {
		return b.String() + "\n" + m.st.Dim.Render("  no pending approvals"+map[bool]string{true: " match /" + s.query, false: ""}[s.query != ""])
	}
	rows := max(h-1, 1)
	off := min(max(s.offset, s.cursor-rows+1), s.cursor)
	off = max(off, 0)
	now := m.now()
	for i := off; i < len(s.rows) && i < off+rows; i++ {
		r := s.rows[i]
		sel := i == s.cursor
		_, marked := s.marks[r.key()]
		gutter := "  "
		switch {
		case sel && marked:
			gutter = "▶*"
		case sel:
			gutter = "▶ "
		case marked:
			gutter = " *"
		}
		var line strings.Builder
		line.WriteString(gutter)
		for j, c := range keep {
			if j > 0 {
				line.WriteByte(' ')
			}
			var v string
			switch c.title {
			case "WAITING":
				line.WriteString(fitRight(compactDuration(now.Sub(r.a.RequestedAt)), widths[j]))
				continue
			case "WORKFLOW ID":
				v = r.wf
			case "APPROVAL":
				v = r.a.Name
			case "DESCRIPTION":
				v = oneLine(r.a.Description)
			case "APPROVERS":
				v = strings.Join(r.a.Approvers, ",")
				if v == "" {
					v = "anyone"
				}
			case "TYPE":
				v = r.typ
			}
			line.WriteString(fit(v, widths[j]))
		}
		b.WriteByte('\n')
		switch {
		case sel:
			b.WriteString(m.st.Selected.Render(line.String()))
		case marked:
			b.WriteString(m.st.Marked.Render(line.String()))
		default:
			b.WriteString(line.String())
		}
	}
	return b.String()
}
