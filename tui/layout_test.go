package tui

import (
	"strings"
	"testing"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// headerLine is the column header line of a table screen.
func headerLine(h *harness) string {
	return strings.Split(h.screen(), "\n")[3]
}

// colWidth is the width of column title in the header line: from its
// start to the next title.
func colWidth(t *testing.T, line, title string) int {
	t.Helper()
	i := strings.Index(line, title)
	if i < 0 {
		t.Fatalf("no %s in %q", title, line)
	}
	rest := []rune(line[i:])
	n := len([]rune(title))
	for n < len(rest) && rest[n] == ' ' || n < len(rest) && (rest[n] == '▲' || rest[n] == '▼') {
		n++
	}
	return n - 1 // the space before the next title
}

// TestLayoutNarrowKeepsTheWorkflowIDWhole: at 80 columns the other columns
// give way before the workflow id is cut (issue 19, finding 7: the demo's
// ingest-doc-VE3K2J showed as ingest-doc-VE…).
func TestLayoutNarrowKeepsTheWorkflowIDWhole(t *testing.T) {
	b := newFixtureBackend()
	b.docs[0].WorkflowID = "ingest-doc-VE3K2J"
	h := newHarness(t, b, Options{})
	h.resize(80, 24)
	h.wantScreenContains("ingest-doc-VE3K2J ", "STATUS LI", "PROGRESS", "WAITING")
}

// TestLayoutWideGivesTheStatusLineTheRoom: at 160 columns the id column is
// as wide as its ids, and the status line (which says what to signal)
// takes the rest instead of id padding.
func TestLayoutWideGivesTheStatusLineTheRoom(t *testing.T) {
	b := newFixtureBackend()
	b.docs[5].StatusLine = "waiting for the laptop-delivered signal: payload {serial}" // 57 cells
	h := newHarness(t, b, Options{})
	h.resize(160, 48)
	line := headerLine(h)
	if w := colWidth(t, line, "WORKFLOW ID"); w > len("import-2026-11")+1 {
		t.Errorf("id column %d wide for ids of at most 14: %q", w, line)
	}
	h.wantScreenContains(`waiting for the laptop-delivered signal: payload {serial}`)
}

// TestSortArrowsFollowTheValues: ▼ means the values shown run from large
// to small. AGE shows now minus start_time, so newest first (start_time
// descending) is ages ascending: ▲. :stuck lists the oldest last event
// first: the longest STALLED first, ▼.
func TestSortArrowsFollowTheValues(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.wantScreenContains("AGE▲")
	h.press(":")
	h.typeText("stuck")
	h.press("enter")
	h.wantScreenContains("STALLED▼")
}

// TestSortedColumnStaysInSight: sorting by a column the narrow layout
// drops (EVENTS) keeps it, so the arrow saying how rows are ordered never
// disappears.
func TestSortedColumnStaysInSight(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.resize(80, 24)
	if strings.Contains(headerLine(h), "EVENTS") {
		t.Fatal("EVENTS shown at 80 columns before sorting by it")
	}
	for range len(executionColumns) {
		if h.list().cols[h.list().sortBy].title == "EVENTS" {
			break
		}
		h.press("o")
	}
	h.wantScreenContains("EVENTS▼")
}

// TestDigitSortsByShownColumn: 1-9 sort by the n-th column on screen; the
// same digit again reverses.
func TestDigitSortsByShownColumn(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	h.press("2") // WORKFLOW ID
	if got := b.searches[len(b.searches)-1].Sort; strings.Join(got, ",") != "workflow_id,run_id" {
		t.Fatalf("2 sent sort %v", got)
	}
	h.wantScreenContains("WORKFLOW ID▲")
	h.press("2")
	h.wantScreenContains("WORKFLOW ID▼")
	if got := selectedID(h); got != "report-daily" {
		t.Fatalf("first by id descending: %s", got)
	}
	h.press("9")
	h.wantScreenContains("no column 9 here")
}

// TestLayoutWidthsFit: every layout fills the width exactly, whatever the
// values' widths, and keeps the pinned column.
func TestLayoutWidthsFit(t *testing.T) {
	docs := []*searchapi.Doc{{WorkflowID: strings.Repeat("x", 60), Type: strings.Repeat("T", 40), Status: "compensated"}}
	wants := wantWidths(executionColumns, nil, docs)
	for w := 40; w <= 240; w += 7 {
		for pin := range executionColumns {
			keep, widths := layout(executionColumns, w, wants, pin)
			total := 2 + len(keep) - 1
			found := false
			for i, c := range keep {
				total += widths[i]
				found = found || c.title == executionColumns[pin].title
			}
			if total != w && len(keep) > 1 {
				t.Fatalf("width %d pin %d: columns take %d", w, pin, total)
			}
			if !found {
				t.Fatalf("width %d: pinned %s dropped", w, executionColumns[pin].title)
			}
		}
	}
}
