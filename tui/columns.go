package tui

import (
	"strings"
	"time"

	"charm.land/lipgloss/v2"

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
	weight   int    // flexible: share of the spare width
	priority int    // the lowest priorities are dropped first when narrow
	right    bool
	cell     func(c cellCtx, d *searchapi.Doc, w int) string
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
	return c.idle[d.TaskQueue] && d.Status == engine.StatusRunning
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
// and one space between columns) and their widths.
func layout(cols []column, width int) (keep []column, widths []int) {
	keep = append([]column(nil), cols...)
	need := func(cs []column) int {
		n := 2 + len(cs) - 1
		for _, c := range cs {
			if c.width > 0 {
				n += c.width
			} else {
				n += c.min
			}
		}
		return n
	}
	for len(keep) > 1 && need(keep) > width {
		low := 0
		for i, c := range keep {
			if c.priority < keep[low].priority {
				low = i
			}
		}
		keep = append(keep[:low:low], keep[low+1:]...)
	}
	spare := width - need(keep)
	weights := 0
	for _, c := range keep {
		if c.width == 0 {
			weights += c.weight
		}
	}
	widths = make([]int, len(keep))
	given := 0
	lastFlex := -1
	for i, c := range keep {
		if c.width > 0 {
			widths[i] = c.width
			continue
		}
		extra := 0
		if weights > 0 && spare > 0 {
			extra = spare * c.weight / weights
		}
		widths[i] = c.min + extra
		given += extra
		lastFlex = i
	}
	if lastFlex >= 0 && spare > given {
		widths[lastFlex] += spare - given // rounding leftovers
	}
	return keep, widths
}

// Columns of the executions list.
var (
	colStatus = column{title: "STATUS", field: "status", width: 13, priority: 100, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return c.r(c.st.Status(d.Status), fit(statusGlyph(d.Status)+" "+statusWord(d.Status), w))
	}}
	colWorkflowID = column{title: "WORKFLOW ID", field: "workflow_id", min: 14, weight: 2, priority: 100, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return fit(oneLine(d.WorkflowID), w)
	}}
	colRun = column{title: "RUN", field: "run_id", width: 8, priority: 10, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return c.r(c.st.Dim, fit(shortID(d.RunID), w))
	}}
	colType = column{title: "TYPE", field: "type", min: 8, weight: 1, priority: 80, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		return fit(oneLine(d.Type), w)
	}}
	colAge = column{title: "AGE", field: "start_time", width: 6, priority: 90, right: true, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
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
	colWaiting = column{title: "WAITING", field: "waiting_on", width: 10, priority: 60, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if (d.WaitingOn == "" || d.WaitingOn == "activity") && c.noWorker(d) {
			return c.r(c.st.Fail, fit("✗ no worker", w))
		}
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
	colStalled = column{title: "STALLED", field: "last_event_time", width: 8, priority: 90, right: true, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if d.LastEventTime.IsZero() {
			return strings.Repeat(" ", w)
		}
		return c.r(c.st.Warn, fitRight(compactDuration(c.now.Sub(d.LastEventTime)), w))
	}}
	colWhy = column{title: "WHY", min: 16, weight: 6, priority: 95, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
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
