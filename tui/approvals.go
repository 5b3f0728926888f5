package tui

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// approvalsQuery matches runs with at least one pending approval (the
// approvals field lists their names; see the field table, visibility/fields).
const approvalsQuery = "approvals:*"

// maxApprovalRuns bounds the inbox; beyond it the header says so and a
// search narrows it.
const maxApprovalRuns = 1000

// approvalsScreen is the inbox: every pending approval across runs, oldest
// first, with its description and age. a approves, r rejects (with a
// comment); marked approvals are decided together.
type approvalsScreen struct {
	id      int
	query   string         // the filter, as typed
	terms   []approvalTerm // the filter, parsed
	all     []approvalRow  // every pending approval of the runs read
	rows    []approvalRow  // those the filter keeps, in the sort order
	total   uint64
	sortBy  int // index in approvalColumns
	desc    bool
	wants   []int
	cursor  int
	offset  int // first row shown; the cursor drives it, as in runList
	marks   map[string]target
	err     error
	loading bool
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
	return &approvalsScreen{id: m.id(), marks: map[string]target{}} // WAITING ascending by request time: oldest first
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
	return s.fetch(m)
}

func (s *approvalsScreen) refresh(m *Model) tea.Cmd { return s.fetch(m) }
func (s *approvalsScreen) resize(m *Model) tea.Cmd  { return nil }

// tryQuery applies a filter over the approvals held: no round trip, and a
// bad one keeps the bar open with the error.
func (s *approvalsScreen) tryQuery(m *Model, q string) tea.Cmd {
	terms, err := parseApprovalFilter(q)
	if err != nil {
		if qb, ok := m.modal.(*queryBar); ok {
			qb.setError(err)
			return nil
		}
		return m.flashErr("search: %v", err)
	}
	s.query, s.terms = q, terms
	s.cursor, s.offset = 0, 0
	s.marks = map[string]target{}
	m.hist.add(q)
	if _, ok := m.modal.(*queryBar); ok {
		m.closeModal()
	}
	s.derive("")
	return nil
}

func (s *approvalsScreen) fetch(m *Model) tea.Cmd {
	b, ctx, timeout, id := m.b, m.ctx, m.opts.RequestTimeout, s.id
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := b.Search(c, searchapi.SearchRequest{Query: approvalsQuery, Sort: []string{"approval_since", "run_id"}, Size: maxApprovalRuns})
		return approvalsMsg{addr: addr{id}, res: res, err: err}
	}
}

func (s *approvalsScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	r, ok := msg.(approvalsMsg)
	if !ok {
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
	s.all = s.all[:0]
	for _, d := range r.res.Hits {
		for _, a := range d.PendingApprovals {
			s.all = append(s.all, approvalRow{wf: d.WorkflowID, run: d.RunID, typ: d.Type, a: a})
		}
	}
	// Drop marks of decided approvals.
	live := map[string]bool{}
	for _, row := range s.all {
		live[row.key()] = true
	}
	for k := range s.marks {
		if !live[k] {
			delete(s.marks, k)
		}
	}
	s.derive(sel)
	return nil
}

// derive filters and sorts the rows, keeping the cursor on the approval
// sel when it is still there.
func (s *approvalsScreen) derive(sel string) {
	s.rows = s.rows[:0]
	for i := range s.all {
		if matchApproval(s.terms, &s.all[i]) {
			s.rows = append(s.rows, s.all[i])
		}
	}
	c := approvalColumns[s.sortBy]
	sort.SliceStable(s.rows, func(i, j int) bool {
		if s.desc {
			return c.cmp(&s.rows[j], &s.rows[i]) < 0
		}
		return c.cmp(&s.rows[i], &s.rows[j]) < 0
	})
	for i, row := range s.rows {
		if row.key() == sel {
			s.cursor = i
		}
	}
	s.cursor = min(s.cursor, max(len(s.rows)-1, 0))
}

// setSort orders the inbox by column col; the cursor stays on its approval.
func (s *approvalsScreen) setSort(col int, desc bool) {
	var sel string
	if r, ok := s.selected(); ok {
		sel = r.key()
	}
	s.sortBy, s.desc = col, desc
	s.derive(sel)
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
	case key.Matches(k, ks.ScopeAll):
		s.markAll()
	case key.Matches(k, ks.SortNext):
		s.setSort((s.sortBy+1)%len(approvalColumns), !approvalColumns[(s.sortBy+1)%len(approvalColumns)].asc)
	case key.Matches(k, ks.SortReverse):
		s.setSort(s.sortBy, !s.desc)
	case sortDigit(k) > 0:
		cols, _ := s.layout(m.w)
		if n := sortDigit(k); n <= len(cols) {
			i := slices.IndexFunc(approvalColumns, func(c approvalColumn) bool { return c.title == cols[n-1].title })
			if i == s.sortBy {
				s.setSort(i, !s.desc)
			} else {
				s.setSort(i, !approvalColumns[i].asc)
			}
		}
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

// markAll marks every approval shown (the filter's matches), or clears
// the marks when they all are marked already.
func (s *approvalsScreen) markAll() {
	all := len(s.rows) > 0
	for _, r := range s.rows {
		if _, on := s.marks[r.key()]; !on {
			all = false
			break
		}
	}
	if all {
		s.marks = map[string]target{}
		return
	}
	for _, r := range s.rows {
		s.marks[r.key()] = r.target()
	}
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
	markAll := k.ScopeAll
	markAll.SetHelp("*", "mark all shown")
	search := k.Search
	search.SetHelp("/", "filter approvals")
	return []helpGroup{k.navGroup(),
		{"Inbox", []key.Binding{k.Approve, k.Reject, k.Mark, markAll, k.Unmark, k.Open, search, k.SortNext, k.SortReverse, sortKeysHelp}},
		k.globalGroup()}
}

func (s *approvalsScreen) footer(k keyMap) []key.Binding {
	search := k.Search
	search.SetHelp("/", "filter")
	return []key.Binding{k.Approve, k.Reject, k.Mark, k.Open, search}
}

func (s *approvalsScreen) header(m *Model) string {
	switch {
	case s.err != nil:
		return m.st.Error.Render("approvals: " + errorText(s.err))
	case s.loading:
		return m.st.Dim.Render("loading approvals…")
	}
	var h string
	if s.query != "" {
		h = m.st.Bold.Render(thousands(len(s.rows))) + m.st.Dim.Render(" of ") + thousands(len(s.all)) + m.st.Dim.Render(" pending approvals match")
	} else {
		h = m.st.Bold.Render(thousands(len(s.rows))) + m.st.Dim.Render(" pending approvals in ") + thousands(s.total) + m.st.Dim.Render(" runs")
	}
	if s.total > maxApprovalRuns {
		h += m.st.Warn.Render("  (the oldest " + thousands(maxApprovalRuns) + " runs only: / filters among them; foreman approve -q reaches every run)")
	}
	if n := len(s.marks); n > 0 {
		h += "   " + m.st.Marked.Render(thousands(n)+" marked")
	}
	return h
}

// approvalColumn is a column of the inbox: its layout (column), its
// value and its order.
type approvalColumn struct {
	column
	value func(r *approvalRow, now time.Time) string
	cmp   func(a, b *approvalRow) int
}

func byText(v func(r *approvalRow) string) (func(r *approvalRow, _ time.Time) string, func(a, b *approvalRow) int) {
	return func(r *approvalRow, _ time.Time) string { return oneLine(v(r)) },
		func(a, b *approvalRow) int { return strings.Compare(v(a), v(b)) }
}

var approvalColumns = func() []approvalColumn {
	text := func(title string, min, weight, prio int, v func(r *approvalRow) string) approvalColumn {
		val, cmp := byText(v)
		return approvalColumn{column: column{title: title, field: title, min: min, weight: weight, priority: prio, asc: true}, value: val, cmp: cmp}
	}
	approvers := func(r *approvalRow) string {
		if len(r.a.Approvers) == 0 {
			return "anyone"
		}
		return strings.Join(r.a.Approvers, ",")
	}
	return []approvalColumn{
		{column: column{title: "WAITING", field: "WAITING", width: 8, priority: 100, right: true, inverse: true, asc: true},
			value: func(r *approvalRow, now time.Time) string { return compactDuration(now.Sub(r.a.RequestedAt)) },
			cmp:   func(a, b *approvalRow) int { return a.a.RequestedAt.Compare(b.a.RequestedAt) }},
		text("WORKFLOW ID", 14, 0, 100, func(r *approvalRow) string { return r.wf }),
		text("APPROVAL", 10, 0, 100, func(r *approvalRow) string { return r.a.Name }),
		claiming(text("DESCRIPTION", 12, 1, 90, func(r *approvalRow) string { return r.a.Description }), 30),
		text("APPROVERS", 10, 0, 45, approvers),
		text("TYPE", 8, 0, 10, func(r *approvalRow) string { return r.typ }),
	}
}()

// claiming is c taking up to claim cells for its values from the extra
// columns (TYPE), as the run list's status line does.
func claiming(c approvalColumn, claim int) approvalColumn {
	c.claim = claim
	return c
}

// layout is the inbox's columns at width w: widened to the values seen,
// the sorted one never dropped.
func (s *approvalsScreen) layout(w int) ([]column, []int) {
	cols := make([]column, len(approvalColumns))
	if len(s.wants) != len(cols) {
		s.wants = make([]int, len(cols))
	}
	for i, c := range approvalColumns {
		cols[i] = c.column
		s.wants[i] = max(s.wants[i], ansi.StringWidth(c.title)+1)
		if c.width == 0 && (c.weight == 0 || c.claim > 0) {
			for j := range s.rows {
				s.wants[i] = max(s.wants[i], ansi.StringWidth(c.value(&s.rows[j], time.Time{})))
			}
		}
	}
	return layout(cols, w, s.wants, s.sortBy)
}

func (s *approvalsScreen) view(m *Model, w, h int) string {
	keep, widths := s.layout(w)
	var b strings.Builder
	b.WriteString("  ")
	for i, c := range keep {
		if i > 0 {
			b.WriteByte(' ')
		}
		t, st := c.title, m.st.ColHeader
		if c.title == approvalColumns[s.sortBy].title {
			t += sortArrow(s.desc, c.inverse)
			st = m.st.ColSorted
		}
		if c.right {
			b.WriteString(st.Render(fitRight(t, widths[i])))
		} else {
			b.WriteString(st.Render(fit(t, widths[i])))
		}
	}
	if !s.loading && len(s.rows) == 0 && s.err == nil {
		if s.query != "" {
			return b.String() + "\n" + m.st.Dim.Render("  no pending approvals match /"+oneLine(s.query)+" (approval, description, approvers, workflow id, type)")
		}
		return b.String() + "\n" + m.st.Dim.Render("  no pending approvals")
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
			ac := approvalColumns[slices.IndexFunc(approvalColumns, func(a approvalColumn) bool { return a.title == c.title })]
			if c.right {
				line.WriteString(fitRight(ac.value(&r, now), widths[j]))
			} else {
				line.WriteString(fit(ac.value(&r, now), widths[j]))
			}
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
