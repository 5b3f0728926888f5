package tui

import (
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
// one, so its arrow stays in sight), -1 for none. Narrow, the lowest
// priorities go first; the width left after every column's min goes to
// the columns' wants by priority (the workflow id is whole before a type
// is), and only then by weight (the status line takes what is left rather
// than the id padding).
func layout(cols []column, width int, wants []int, pin int) (keep []column, widths []int) {
	idx := make([]int, len(cols))
	for i := range cols {
		idx[i] = i
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
	// need is the width of the columns left: at their min, or, with
	// whole, the identity columns (status, id, age) at what their values
	// need — a workflow id is not cut to keep a low-priority column.
	need := func(whole bool) int {
		n := 2 + len(idx) - 1
		for _, i := range idx {
			w := least(i)
			if whole && cols[i].whole && i < len(wants) {
				w = max(w, wants[i])
			}
			n += w
		}
		return n
	}
	drop := func(whole bool) bool {
		low := -1
		for k, i := range idx {
			if i != pin && !(whole && cols[i].whole) && (low < 0 || cols[i].priority < cols[idx[low]].priority) {
				low = k
			}
		}
		if low < 0 {
			return false
		}
		idx = append(idx[:low:low], idx[low+1:]...)
		return true
	}
	for len(idx) > 1 && need(true) > width && drop(true) {
	}
	for len(idx) > 1 && need(false) > width && drop(false) {
	}
	spare := width - need(false)
	widths = make([]int, len(idx))
	keep = make([]column, len(idx))
	for k, i := range idx {
		keep[k], widths[k] = cols[i], least(i)
	}
	// Widen to the values, highest priority first.
	order := make([]int, len(idx))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return keep[b].priority - keep[a].priority })
	for _, k := range order {
		if spare <= 0 {
			break
		}
		if i := idx[k]; keep[k].width == 0 && i < len(wants) && wants[i] > widths[k] {
			add := min(spare, wants[i]-widths[k])
			widths[k] += add
			spare -= add
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
		return c.r(c.st.Status(d.Status), fit(statusGlyph(d.Status)+" "+statusWord(d.Status), w))
	}}
	colWorkflowID = column{title: "WORKFLOW ID", field: "workflow_id", asc: true, min: 14, priority: 100, whole: true, measure: func(d *searchapi.Doc) int {
		return ansi.StringWidth(d.WorkflowID)
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return fit(oneLine(d.WorkflowID), w)
	}}
	colRun = column{title: "RUN", field: "run_id", asc: true, width: 8, priority: 10, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return c.r(c.st.Dim, fit(shortID(d.RunID), w))
	}}
	colType = column{title: "TYPE", field: "type", asc: true, min: 8, priority: 80, measure: func(d *searchapi.Doc) int {
		return ansi.StringWidth(d.Type)
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
	colWaiting = column{title: "WAITING", field: "waiting_on", asc: true, min: 8, priority: 85, measure: func(d *searchapi.Doc) int {
		return len(waitingWord(d.WaitingOn, d.Attempts))
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		s := fit(waitingWord(d.WaitingOn, d.Attempts), w)
		if d.WaitingOn == "retry" || d.WaitingOn == "task_failure" {
			return c.r(c.st.Warn, s)
		}
		return s
	}}
	colStatusLine = column{title: "STATUS LINE", min: 10, weight: 5, priority: 50, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if !statusLineStale(d.Status) {
			if d.StatusLine == "" && d.LastFailure != nil && d.Status != "running" {
				return c.r(c.st.Fail, fit(oneLine(d.LastFailure.Message), w))
			}
			return fit(oneLine(d.StatusLine), w)
		}
		// A run closed from outside or by a failure said its status line
		// before that ("waiting for a manager…"): it is not what it does.
		if d.LastFailure != nil {
			return c.r(c.st.Fail, fit(oneLine(d.LastFailure.Message), w))
		}
		if d.StatusLine == "" {
			return fit("", w)
		}
		return fit("last: "+oneLine(d.StatusLine), w) // unstyled: rows stay cheap to draw
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
		return ansi.StringWidth(stuckReason(d, d.LastEventTime)) // durations aside, the reason's width
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
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
