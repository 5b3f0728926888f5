package tui

import (
	"math"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// column is one column of a run table: how wide, how to sort by it, and how
// to render a cell. Cells are pure functions of the document, the clock and
// the styles (tested with tables), so a frame costs only string building.
type column struct {
	title    string
	field    string // index field to sort on; "" = not sortable
	width    int    // fixed width; 0 = flexible
	min      int    // flexible: narrowest useful width
	weight   int    // flexible: share of the width left once every column has what its values need
	priority int    // the lowest priorities are dropped first when narrow, and widened last
	right    bool
	asc      bool // a first sort by it is ascending (names); else descending (newest, largest)
	// inverse: the cells show the field the other way round (AGE is now
	// minus start_time), so the sort arrow is flipped to match the values.
	inverse bool
	// whole: the column says which run a row is (status, workflow id);
	// its values are shown whole before lower columns are kept.
	whole bool
	// claim is the width (of its values, at most claim) the column takes
	// from the extra columns (below extraPriority), dropping them when that
	// is enough: the status line says what a run does and what to signal,
	// which a RUN or EVENTS column does not.
	claim int
	// measure is the width a cell's value needs (flexible columns): the
	// layout widens columns to their values, highest priority first, before
	// any weight is shared out. nil: min is enough.
	measure func(d *searchapi.Doc) int
	cell    func(c cellCtx, d *searchapi.Doc, w int) string
}

// cellCtx is what a cell may read besides its document.
type cellCtx struct {
	st    *Styles
	now   time.Time
	plain bool // the selected row is styled as a whole: cells stay plain
	// idle are the queues no worker polls (pulse.go); nil when unknown.
	idle map[string]bool
}

// noWorker tells whether d is a running run whose queue no worker polls.
func (c cellCtx) noWorker(d *searchapi.Doc) bool {
	return c.idle[d.TaskQueue] && d.Status == engine.StatusRunning && !d.Imported
}

// r renders text in style, or plain on the selected row (a nested style's
// reset would cut the row highlight short).
func (c cellCtx) r(style lipgloss.Style, text string) string {
	if c.plain {
		return text
	}
	return style.Render(text)
}

// layout chooses the columns that fit in width (after the two-cell gutter
// and one space between columns) and their widths. wants[i] is what column
// i's values need (0: its min); pin is a column never dropped (the sorted
// one, so its arrow stays in sight), -1 for none.
//
// In order: the columns that say which run a row is (whole) get their
// values' width before any lower column is kept, so a workflow id is never
// cut for a RUN or EVENTS column; a claiming column (the status line) gets
// its claim by dropping extra columns when that is enough; then
// the lowest priorities go until the rest fits at their min. The width
// left goes to claims, then to the columns' values by priority, then by
// weight — to the status line rather than id padding.
func layout(cols []column, width int, wants []int, pin int) (keep []column, widths []int) {
	want := func(i int) int {
		if i < len(wants) {
			return wants[i]
		}
		return 0
	}
	least := func(i int) int {
		c := cols[i]
		w := c.min
		if c.width > 0 {
			w = c.width
		}
		if i == pin { // room for the sort arrow
			w = max(w, ansi.StringWidth(c.title)+1)
		}
		return w
	}
	wholeW := func(i int) int {
		if cols[i].whole {
			return max(least(i), want(i))
		}
		return least(i)
	}
	// claimsFrom is the width of column i with the claims of priority p
	// and above.
	claimsFrom := func(p int) func(i int) int {
		return func(i int) int {
			if c := cols[i]; c.claim > 0 && c.priority >= p {
				return max(least(i), min(want(i), c.claim))
			}
			return wholeW(i)
		}
	}
	claimW := claimsFrom(math.MinInt)
	sum := func(idx []int, w func(int) int) int {
		n := 2 + len(idx) - 1
		for _, i := range idx {
			n += w(i)
		}
		return n
	}
	// drop removes the lowest-priority column that may go.
	drop := func(idx []int, may func(i int) bool) ([]int, bool) {
		low := -1
		for k, i := range idx {
			if i != pin && may(i) && (low < 0 || cols[i].priority < cols[idx[low]].priority) {
				low = k
			}
		}
		if low < 0 {
			return idx, false
		}
		return append(idx[:low:low], idx[low+1:]...), true
	}
	idx := make([]int, len(cols))
	for i := range cols {
		idx[i] = i
	}
	ok := true
	for len(idx) > 1 && sum(idx, wholeW) > width && ok {
		idx, ok = drop(idx, func(i int) bool { return !cols[i].whole })
	}
	claimers := slices.Clone(idx)
	slices.SortStableFunc(claimers, func(a, b int) int { return cols[b].priority - cols[a].priority })
	for _, ci := range claimers {
		w := claimsFrom(cols[ci].priority)
		if cols[ci].claim == 0 || !slices.Contains(idx, ci) || sum(idx, w) <= width {
			continue
		}
		trial, ok := idx, true
		for sum(trial, w) > width && ok {
			trial, ok = drop(trial, func(i int) bool {
				return !cols[i].whole && cols[i].claim == 0 && cols[i].priority < extraPriority
			})
		}
		if sum(trial, w) <= width {
			idx = trial
		}
	}
	ok = true
	for len(idx) > 1 && sum(idx, least) > width && ok {
		idx, ok = drop(idx, func(int) bool { return true })
	}
	spare := width - sum(idx, least)
	widths = make([]int, len(idx))
	keep = make([]column, len(idx))
	for k, i := range idx {
		keep[k], widths[k] = cols[i], least(i)
	}
	grow := func(k, to int) {
		if add := min(spare, to-widths[k]); add > 0 {
			widths[k] += add
			spare -= add
		}
	}
	// Claims and whole values first, then the others' values by priority.
	order := make([]int, len(idx))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return keep[b].priority - keep[a].priority })
	for _, k := range order {
		if keep[k].whole || keep[k].claim > 0 {
			grow(k, claimW(idx[k]))
		}
	}
	for _, k := range order {
		if keep[k].width == 0 && keep[k].claim == 0 {
			grow(k, want(idx[k]))
		}
	}
	weights := 0
	lastFlex := -1
	for k, c := range keep {
		if c.width == 0 && c.weight > 0 {
			weights += c.weight
			lastFlex = k
		}
	}
	given := 0
	for k, c := range keep {
		if c.width == 0 && c.weight > 0 && spare > 0 {
			extra := spare * c.weight / weights
			widths[k] += extra
			given += extra
		}
	}
	if spare > given && len(keep) > 0 {
		// Rounding leftovers, or no column to share among: the last
		// flexible column (else the last) ends at the edge.
		if lastFlex < 0 {
			lastFlex = len(keep) - 1
			for k, c := range keep {
				if c.width == 0 {
					lastFlex = k
				}
			}
		}
		widths[lastFlex] += spare - given
	}
	return keep, widths
}

// textWidth is the cells s takes: its length for ASCII (ids, types, most
// status lines), measured only otherwise — measuring runs per row per
// frame.
func textWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

// extraPriority: columns below it (RUN, TOOK, EVENTS) are extras, which a
// claim may take the room of; the others stay as long as they fit.
const extraPriority = 40

// wantWidths measures rows into wants (one per column, grown only: widths
// do not jump back and forth while the operator scrolls). Column titles
// count, with a cell for the sort arrow.
func wantWidths(cols []column, wants []int, rows []*searchapi.Doc) []int {
	if len(wants) != len(cols) {
		wants = make([]int, len(cols))
		for i, c := range cols {
			wants[i] = ansi.StringWidth(c.title) + 1
		}
	}
	for i, c := range cols {
		if c.measure == nil {
			continue
		}
		for _, d := range rows {
			wants[i] = max(wants[i], c.measure(d))
		}
	}
	return wants
}

// Columns of the executions list.
var (
	colStatus = column{title: "STATUS", field: "status", asc: true, min: 12, priority: 100, whole: true, measure: func(d *searchapi.Doc) int {
		return 2 + len(statusWord(d.Status))
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if d.Paused != nil {
			return c.r(c.st.Warn, fit(pausedGlyph+" paused", w))
		}
		return c.r(c.st.Status(d.Status), fit(statusGlyph(d.Status)+" "+statusWord(d.Status), w))
	}}
	colWorkflowID = column{title: "WORKFLOW ID", field: "workflow_id", asc: true, min: 14, priority: 100, whole: true, measure: func(d *searchapi.Doc) int {
		return textWidth(d.WorkflowID)
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return fit(oneLine(d.WorkflowID), w)
	}}
	colRun = column{title: "RUN", field: "run_id", asc: true, width: 8, priority: 10, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return c.r(c.st.Dim, fit(shortID(d.RunID), w))
	}}
	colType = column{title: "TYPE", field: "type", asc: true, min: 8, priority: 80, measure: func(d *searchapi.Doc) int {
		return textWidth(d.Type)
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return fit(oneLine(d.Type), w)
	}}
	colAge = column{title: "AGE", field: "start_time", width: 6, priority: 90, right: true, inverse: true, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if d.StartTime.IsZero() {
			return strings.Repeat(" ", w)
		}
		return fitRight(compactDuration(c.now.Sub(d.StartTime)), w)
	}}
	colDuration = column{title: "TOOK", field: "duration_ms", width: 6, priority: 30, right: true, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if d.CloseTime.IsZero() || d.StartTime.IsZero() {
			return c.r(c.st.Dim, fitRight("—", w))
		}
		return fitRight(compactDuration(d.CloseTime.Sub(d.StartTime)), w)
	}}
	colProgress = column{title: "PROGRESS", field: "progress_pct", width: 10, priority: 45, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		bar, pct := progressBar(d.Progress, 5)
		if bar == "" {
			return strings.Repeat(" ", w)
		}
		full := strings.Count(bar, "█")
		return c.r(c.st.BarFull, strings.Repeat("█", full)) + c.r(c.st.BarEmpty, strings.Repeat("░", 5-full)) + fitRight(pct, w-5)
	}}
	colWaiting = column{title: "WAITING", field: "waiting_on", asc: true, min: 8, priority: 85, claim: 10, measure: func(d *searchapi.Doc) int {
		return len(waitingWord(d.WaitingOn, d.Attempts))
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if (d.WaitingOn == "" || d.WaitingOn == "activity") && c.noWorker(d) {
			return c.r(c.st.Fail, fit("✗ no worker", w))
		}
		s := fit(waitingWord(d.WaitingOn, d.Attempts), w)
		if d.WaitingOn == "retry" || d.WaitingOn == "task_failure" {
			return c.r(c.st.Warn, s)
		}
		return s
	}}
	colStatusLine = column{title: "STATUS LINE", min: 10, weight: 5, priority: 50, claim: 30, measure: func(d *searchapi.Doc) int {
		text, _ := statusLineText(d)
		return textWidth(text)
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		text, failed := statusLineText(d)
		if failed {
			return c.r(c.st.Fail, fit(text, w))
		}
		return fit(text, w) // unstyled: rows stay cheap to draw
	}}
	colHistory = column{title: "EVENTS", field: "history_length", width: 6, priority: 5, right: true, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return c.r(c.st.Dim, fitRight(thousands(d.HistoryLength), w))
	}}
	colStalled = column{title: "STALLED", field: "last_event_time", width: 8, priority: 90, right: true, inverse: true, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if d.LastEventTime.IsZero() {
			return strings.Repeat(" ", w)
		}
		return c.r(c.st.Warn, fitRight(compactDuration(c.now.Sub(d.LastEventTime)), w))
	}}
	colWhy = column{title: "WHY", min: 16, weight: 6, priority: 95, measure: func(d *searchapi.Doc) int {
		return textWidth(stuckReason(d, d.LastEventTime)) // durations aside, the reason's width
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if c.noWorker(d) {
			return c.r(c.st.Fail, fit("no worker polling queue "+d.TaskQueue, w))
		}
		return fit(stuckReason(d, c.now), w)
	}}
)

// executionColumns is the executions list (also :failed and :running).
var executionColumns = []column{colStatus, colWorkflowID, colRun, colType, colAge, colDuration, colProgress, colWaiting, colStatusLine, colHistory}

// stuckColumns is the :stuck view: how long and why.
var stuckColumns = []column{colWorkflowID, colType, colStalled, colWaiting, reweigh(colWhy, 12)}

// reweigh is c with another share of the spare width.
func reweigh(c column, weight int) column {
	c.weight = weight
	return c
}

// statusLineText is what the status line column shows: the run's own
// line, or for a closed run that did not say a last word its failure or
// "last: " and what it said before (a terminated run's "waiting for a
// manager…" is not what it does). failed: the text is a failure.
func statusLineText(d *searchapi.Doc) (text string, failed bool) {
	if !statusLineStale(d.Status) {
		if d.StatusLine == "" && d.LastFailure != nil && d.Status != "running" {
			return oneLine(d.LastFailure.Message), true
		}
		return oneLine(d.StatusLine), false
	}
	if d.LastFailure != nil {
		return oneLine(d.LastFailure.Message), true
	}
	if d.StatusLine == "" {
		return "", false
	}
	return "last: " + oneLine(d.StatusLine), false
}

// statusLineStale: the run closed without its code saying a last word
// (terminated, canceled, failed, compensated), so its status line is what
// it said before, not its outcome. Running and completed runs' lines are
// their own.
func statusLineStale(st engine.Status) bool {
	switch st {
	case "", engine.StatusRunning, engine.StatusCompleted, engine.StatusContinuedAsNew:
		return false
	}
	return true
}
