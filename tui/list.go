package tui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// listKind is what a run list shows: every execution matching the query,
// or one of the palette's presets.
type listKind int

const (
	listExecutions listKind = iota
	listFailed
	listRunning
	listStuck
	listQueue
	listView
)

// Page geometry: pages of 100 rows, at most 6 pages held (600 rows), so
// memory and render cost do not grow with the number of matches.
const (
	pageSize  = 100
	pagesKept = 6
)

// runList is a live, sortable, paged table of runs.
type runList struct {
	id     int
	kind   listKind
	name   string // breadcrumb
	query  string // the operator's search
	cols   []column
	sortBy int // index in cols
	desc   bool
	wants  []int  // what each column's values need, grown as rows are seen (layout)
	group  string // field the header counts are grouped by

	win    *rowWindow
	cursor int
	// offset is the first row shown. Not a bubbles viewport: the rows are
	// a window over matches read page by page (100,000 and more), and a
	// viewport scrolls content it holds whole.
	offset int
	height int  // rows visible, from the last render
	atEnd  bool // G pressed: stick to the last row once it arrives
	selRun string
	// newAbove counts rows that arrived above the visible ones while the
	// cursor stayed on its run ("↑ N new"); g goes to them.
	newAbove int

	marks    map[string]target // run id -> run
	scopeAll bool              // the next action applies to every match

	pendingWin    *rowWindow // a new query being tried
	pendingQuery  string
	pendingOffset int // where the typed query starts in what was sent
	stuckAfter    time.Duration

	counts   searchapi.CountResult
	countErr error
	people   uint64 // :stuck: quiet runs left out as waiting on a person
	err      error
	tookMS   float64
}

func newRunList(m *Model, kind listKind, query string) *runList {
	l := &runList{id: m.id(), kind: kind, query: query, cols: executionColumns, sortBy: 4, desc: true,
		group: "status", win: newRowWindow(pageSize, pagesKept), marks: map[string]target{}, height: 18}
	switch kind {
	case listExecutions:
		l.name = "executions"
	case listFailed:
		l.name = "failed"
	case listRunning:
		l.name = "running"
	case listStuck:
		l.name = "stuck > " + compactDuration(m.opts.StuckAfter)
		l.cols = stuckColumns
		l.sortBy, l.desc = 2, false // longest stalled first: oldest last event
		l.group = "waiting_on"
	case listQueue:
		l.name = "queue"
	case listView:
		l.name = "view"
	}
	return l
}

func (l *runList) sid() int             { return l.id }
func (l *runList) currentQuery() string { return l.query }
func (l *runList) acts() bool           { return true }
func (l *runList) crumb() string        { return l.name + l.crumbQuery() }

func (l *runList) shortCrumb() string { return l.name }

func (l *runList) crumbQuery() string {
	if l.query == "" {
		return ""
	}
	return " /" + oneLine(l.query)
}

// preset is the fixed condition of the list's kind.
func (l *runList) preset(m *Model) preset {
	switch l.kind {
	case listFailed:
		return preset{"status:failed", "ExecutionStatus = 'Failed'"}
	case listRunning:
		return preset{"status:running", "ExecutionStatus = 'Running'"}
	case listStuck:
		return stuckPreset(l.stuckFor(m))
	}
	return preset{}
}

// effectiveQuery is what is sent to the index: the preset's condition and
// the operator's search.
func (l *runList) effectiveQuery(m *Model) string {
	q, _ := l.preset(m).combine(l.query)
	return q
}

// shiftPos moves a query error's position back by off bytes, for queries
// that were combined with a preset before they were sent.
func shiftPos(err error, off int) error {
	var ae *searchapi.APIError
	if off == 0 || !errors.As(err, &ae) {
		return err
	}
	c := *ae
	c.Pos = max(c.Pos-off, 0)
	return &c
}

// sortSpec is the sort sent to the index; run_id breaks ties so that
// search-after cursors are exact.
func (l *runList) sortSpec() []string {
	c := l.cols[l.sortBy]
	f := c.field
	if l.desc {
		f = "-" + f
	}
	if c.field == "run_id" {
		return []string{f}
	}
	return []string{f, "run_id"}
}

// invertSort reverses every key, to walk pages from the last row.
func invertSort(s []string) []string {
	out := make([]string, len(s))
	for i, f := range s {
		if strings.HasPrefix(f, "-") {
			out[i] = f[1:]
		} else {
			out[i] = "-" + f
		}
	}
	return out
}

func (l *runList) load(m *Model) tea.Cmd {
	return tea.Batch(l.fetch(m, l.win.want(0, l.height)), l.fetchCounts(m))
}

func (l *runList) refresh(m *Model) tea.Cmd {
	return tea.Batch(l.fetch(m, l.win.refresh()), l.fetchCounts(m))
}

func (l *runList) resize(m *Model) tea.Cmd {
	l.height = m.tableRows()
	l.follow()
	return l.fetch(m, l.win.want(l.offset-l.height, l.offset+2*l.height))
}

func (l *runList) fetch(m *Model, reqs []pageReq) tea.Cmd {
	return m.fetchPages(l.id, l.effectiveQuery(m), l.sortSpec(), reqs, false)
}

// fetchPages asks for pages of a window; replies come back as pageMsg.
func (m *Model) fetchPages(to int, q string, sort []string, reqs []pageReq, pending bool) tea.Cmd {
	var cmds []tea.Cmd
	b, ctx, timeout := m.b, m.ctx, m.opts.RequestTimeout
	for _, req := range reqs {
		s := sort
		if req.chain == fromBottom {
			s = invertSort(sort)
		}
		cmds = append(cmds, func() tea.Msg {
			c, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			res, err := b.Search(c, searchapi.SearchRequest{Query: q, Sort: s, Size: pageSize, After: req.after})
			return pageMsg{addr: addr{to}, req: req, query: q, pending: pending, res: res, err: err}
		})
	}
	return tea.Batch(cmds...)
}

func (l *runList) fetchCounts(m *Model) tea.Cmd {
	if l.kind == listStuck {
		return tea.Batch(l.fetchGroups(m), l.fetchPeople(m))
	}
	return l.fetchGroups(m)
}

func (l *runList) fetchGroups(m *Model) tea.Cmd {
	q := l.effectiveQuery(m)
	b, ctx, timeout, to, group := m.b, m.ctx, m.opts.RequestTimeout, l.id, l.group
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := b.Count(c, searchapi.CountRequest{Query: q, GroupBy: group})
		return countMsg{addr: addr{to}, query: q, res: res, err: err}
	}
}

// tryQuery runs a new search without giving up the current rows: if the
// index rejects the query, the bar shows where, and nothing else changes.
func (l *runList) tryQuery(m *Model, q string) tea.Cmd {
	l.pendingWin = newRowWindow(pageSize, pagesKept)
	l.pendingQuery = q
	eq, off := l.preset(m).combine(q)
	l.pendingOffset = off
	return m.fetchPages(l.id, eq, l.sortSpec(), l.pendingWin.want(0, 0), true)
}

func (l *runList) receive(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageMsg:
		if msg.pending {
			return l.onTried(m, msg)
		}
		if msg.err != nil {
			l.win.fail(msg.req)
			if msg.req.gen == l.win.gen {
				l.err = msg.err
			}
			return nil
		}
		ok, follow := l.win.apply(msg.req, msg.res)
		if !ok {
			return nil
		}
		l.err = nil
		l.tookMS = msg.res.TookMS
		l.follow()
		return tea.Batch(l.fetch(m, follow), l.fetch(m, l.win.want(l.offset-l.height, l.offset+2*l.height)))
	case countMsg:
		if l.kind == listStuck && msg.query == l.peopleQuery(m) {
			if msg.err == nil {
				l.people = msg.res.Total
			}
			return nil
		}
		if msg.query != l.effectiveQuery(m) {
			return nil // counts of a previous search
		}
		l.counts, l.countErr = msg.res, msg.err
	}
	return nil
}

// onTried handles the answer to a query typed in the bar.
func (l *runList) onTried(m *Model, msg pageMsg) tea.Cmd {
	if l.pendingWin == nil || msg.req.gen != l.pendingWin.gen {
		return nil
	}
	if msg.err != nil {
		l.pendingWin = nil
		if qb, ok := m.modal.(*queryBar); ok {
			qb.setError(shiftPos(msg.err, l.pendingOffset))
			return nil
		}
		return m.flashErr("search: %v", msg.err)
	}
	l.win, l.query, l.wants = l.pendingWin, l.pendingQuery, nil
	l.pendingWin = nil
	l.win.apply(msg.req, msg.res)
	l.cursor, l.offset, l.atEnd, l.selRun, l.err, l.newAbove = 0, 0, false, "", nil, 0
	l.marks = map[string]target{}
	l.scopeAll = false
	if _, ok := m.modal.(*queryBar); ok {
		m.closeModal()
	}
	m.hist.add(l.query)
	m.clearErrFlash()
	l.follow()
	return tea.Batch(l.fetchCounts(m), l.fetch(m, l.win.want(0, 2*l.height)))
}

// follow keeps the cursor on the same run when rows move under it (live
// updates insert rows above), and in range when matches shrink.
func (l *runList) follow() {
	if l.atEnd && l.win.known {
		l.cursor = max(l.win.total-1, 0)
		l.atEnd = false
	} else if l.selRun != "" {
		r := l.win.find(l.selRun)
		// On the first row the operator watches the head: the newest row
		// takes the cursor. Elsewhere the cursor stays on its run and the
		// rows that arrived above are counted.
		head := l.cursor == 0 && l.offset == 0 && l.win.chain == fromTop
		if r >= 0 && r != l.cursor && !head {
			l.newAbove = max(l.newAbove+r-l.cursor, 0)
			l.offset += r - l.cursor
			l.cursor = r
		}
	}
	if l.win.known {
		l.cursor = min(l.cursor, max(l.win.total-1, 0))
	}
	l.clampOffset()
	l.newAbove = min(l.newAbove, l.offset) // rows scrolled into view are seen
	if d, ok := l.win.row(l.cursor); ok {
		l.selRun = d.RunID
	}
}

func (l *runList) clampOffset() {
	h := max(l.height, 1)
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+h {
		l.offset = l.cursor - h + 1
	}
	if l.win.known {
		l.offset = min(l.offset, max(l.win.total-h, 0))
	}
	l.offset = max(l.offset, 0)
}

// moveTo puts the cursor on row r and asks for the pages around it.
func (l *runList) moveTo(m *Model, r int) tea.Cmd {
	if !l.win.known {
		return nil
	}
	l.cursor = min(max(r, 0), max(l.win.total-1, 0))
	l.clampOffset()
	l.newAbove = min(l.newAbove, l.offset)
	l.selRun = ""
	if d, ok := l.win.row(l.cursor); ok {
		l.selRun = d.RunID
	}
	// Near the top of a bottom-anchored window, walking back from the end
	// would take many pages: restart from the top instead.
	if l.win.chain == fromBottom && l.offset < pageSize && l.win.total > pageSize*pagesKept {
		l.win.reset(fromTop)
	}
	l.win.evict(l.cursor)
	return l.fetch(m, l.win.want(l.offset-l.height, l.offset+2*l.height))
}

// toEnd jumps to the last row: one request with the sort reversed.
func (l *runList) toEnd(m *Model) tea.Cmd {
	if !l.win.known {
		return nil
	}
	last := l.win.total - 1
	if _, ok := l.win.row(last); ok || l.win.total <= pageSize {
		return l.moveTo(m, last)
	}
	l.win.reset(fromBottom)
	l.atEnd = true
	l.cursor = max(last, 0)
	l.win.total, l.win.known = last+1, false
	l.clampOffset()
	return l.fetch(m, l.win.want(0, 0))
}

// toTop goes to the newest row as the index has it now: page 0 is asked
// again, so rows that arrived since the last refresh are shown too.
func (l *runList) toTop(m *Model) tea.Cmd {
	l.newAbove = 0
	if l.win.chain == fromBottom {
		l.win.reset(fromTop)
		l.cursor, l.offset, l.selRun = 0, 0, ""
		return l.fetch(m, l.win.want(0, 2*l.height))
	}
	cmd := l.moveTo(m, 0)
	if _, ok := l.win.pages[0]; ok && !l.win.inflight[0] {
		cmd = tea.Batch(cmd, l.fetch(m, []pageReq{l.win.request(0)}))
	}
	return cmd
}

func (l *runList) setSort(m *Model, col int, desc bool) tea.Cmd {
	l.sortBy, l.desc, l.wants = col, desc, nil
	l.win.reset(fromTop)
	l.cursor, l.offset, l.selRun, l.atEnd, l.newAbove = 0, 0, "", false, 0
	return l.fetch(m, l.win.want(0, 2*l.height))
}

// sortByShown sorts by the n-th column on screen (1-based); again on the
// sorted column, it reverses.
func (l *runList) sortByShown(m *Model, n int) tea.Cmd {
	cols, _ := l.layout(m.w)
	if n > len(cols) {
		return m.flashErr("no column %d here (%d shown)", n, len(cols))
	}
	c := cols[n-1]
	if c.field == "" {
		return m.flashErr("%s cannot be sorted on", c.title)
	}
	i := slices.IndexFunc(l.cols, func(x column) bool { return x.title == c.title })
	if i == l.sortBy {
		return l.setSort(m, i, !l.desc)
	}
	return l.setSort(m, i, !c.asc)
}

// nextSortable returns the next column (after i) the index can sort on.
func (l *runList) nextSortable(i int) int {
	for n := 1; n <= len(l.cols); n++ {
		j := (i + n) % len(l.cols)
		if l.cols[j].field != "" {
			return j
		}
	}
	return i
}

func (l *runList) selected() (*searchapi.Doc, bool) { return l.win.row(l.cursor) }

func (l *runList) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	ks := m.keys
	switch {
	case key.Matches(k, ks.Down):
		return l.moveTo(m, l.cursor+1), true
	case key.Matches(k, ks.Up):
		return l.moveTo(m, l.cursor-1), true
	case key.Matches(k, ks.PageDown):
		return l.moveTo(m, l.cursor+l.height), true
	case key.Matches(k, ks.PageUp):
		return l.moveTo(m, l.cursor-l.height), true
	case key.Matches(k, ks.HalfDown):
		return l.moveTo(m, l.cursor+l.height/2), true
	case key.Matches(k, ks.HalfUp):
		return l.moveTo(m, l.cursor-l.height/2), true
	case key.Matches(k, ks.Top):
		return l.toTop(m), true
	case key.Matches(k, ks.Bottom):
		return l.toEnd(m), true
	case key.Matches(k, ks.Open):
		if d, ok := l.selected(); ok {
			return m.push(newDetail(m, d.WorkflowID, d.RunID)), true
		}
		return nil, true
	case key.Matches(k, ks.Search):
		m.modal = newQueryBar(m, l)
		return nil, true
	case key.Matches(k, ks.SortNext):
		next := l.nextSortable(l.sortBy)
		return l.setSort(m, next, !l.cols[next].asc), true
	case key.Matches(k, ks.SortReverse):
		return l.setSort(m, l.sortBy, !l.desc), true
	case sortDigit(k) > 0:
		return l.sortByShown(m, sortDigit(k)), true
	case key.Matches(k, ks.Mark):
		if d, ok := l.selected(); ok {
			if _, on := l.marks[d.RunID]; on {
				delete(l.marks, d.RunID)
			} else {
				l.marks[d.RunID] = targetOf(d)
			}
			return l.moveTo(m, l.cursor+1), true
		}
		return nil, true
	case key.Matches(k, ks.Unmark):
		l.marks = map[string]target{}
		l.scopeAll = false
		return nil, true
	case key.Matches(k, ks.ScopeAll):
		l.scopeAll = !l.scopeAll
		return nil, true
	case key.Matches(k, ks.HideChildren):
		return l.tryQuery(m, toggledChildren(l.query)), true
	case key.Matches(k, ks.Copy):
		if d, ok := l.selected(); ok {
			return m.copyText(d.WorkflowID, "workflow id "+d.WorkflowID), true
		}
		return nil, true
	case key.Matches(k, ks.CopyJSON):
		if d, ok := l.selected(); ok {
			return m.copyJSON(d, "run "+d.WorkflowID+" as JSON"), true
		}
		return nil, true
	}
	if l.kind == listStuck && key.Matches(k, keyDiagnose) {
		return m.push(newDiagnosis(m, l.stuckFor(m))), true
	}
	if kind, ok := m.actionFor(k); ok {
		return l.act(m, kind), true
	}
	return nil, false
}

// act opens the dialog of an action on the scope the operator chose: every
// match (*), the marked rows, or the row under the cursor.
func (l *runList) act(m *Model, kind actionKind) tea.Cmd {
	if kind == actQuery {
		if d, ok := l.selected(); ok {
			det := newDetail(m, d.WorkflowID, d.RunID)
			det.tab, det.query.editing = tabQuery, true
			return m.push(det)
		}
		return nil
	}
	var s scope
	switch {
	case l.scopeAll:
		s = scope{all: true, query: l.effectiveQuery(m), sort: l.sortSpec(), count: l.win.total, label: l.crumb()}
		l.scopeAll = false
	case len(l.marks) > 0:
		for _, t := range l.marks {
			s.targets = append(s.targets, t)
		}
		sortTargets(s.targets)
	default:
		d, ok := l.selected()
		if !ok {
			return m.flashErr("no run selected")
		}
		s.targets = []target{targetOf(d)}
		s.approvals = d.PendingApprovals
	}
	return m.beginAction(kind, s)
}

func (l *runList) help(k keyMap) []helpGroup {
	runs := []key.Binding{k.Open, k.Search, k.SortNext, k.SortReverse, sortKeysHelp, k.Mark, k.Unmark, k.ScopeAll, k.HideChildren}
	if l.kind == listStuck {
		runs = append(runs, keyDiagnose)
	}
	return []helpGroup{
		k.navGroup(),
		{"Runs", runs},
		k.actionGroup(),
		k.globalGroup(),
	}
}

func (l *runList) footer(k keyMap) []key.Binding {
	keys := []key.Binding{k.Open, k.Search, k.Approve, k.Signal, k.Terminate, k.Mark, k.Palette} // the actions before what ? lists
	if l.kind == listStuck {
		keys = append([]key.Binding{k.Open, keyDiagnose}, keys[1:]...)
	}
	if d, ok := l.selected(); ok && len(l.marks) == 0 && !l.scopeAll {
		return k.applicable(keys, d.Status) // the row's actions only
	}
	return keys
}

// errorText is an error as one line, with the index's own words for API
// errors.
func errorText(err error) string {
	var ae *searchapi.APIError
	if errors.As(err, &ae) {
		return ae.Message
	}
	return oneLine(err.Error())
}
