package tui

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/foremanhq/foreman/engine"
)

func openOrder1001(t *testing.T, opts Options) (*harness, *detailScreen) {
	t.Helper()
	h := newHarness(t, newFixtureBackend(), opts)
	onRun(h, "order-1001")
	h.press("enter")
	return h, h.detail()
}

func TestDetailTabsAndBreadcrumbs(t *testing.T) {
	h, d := openOrder1001(t, Options{})
	h.wantScreenContains("Status line waiting for manager approval", "40% (2 of 5)", `"order": "1001"`)
	for i, want := range []string{"Pending", "History", "Stack", "Query", "Compensation", "Overview"} {
		h.press("tab")
		if tabNames[d.tab] != want {
			t.Fatalf("tab %d is %s, want %s", i, tabNames[d.tab], want)
		}
		h.wantScreenContains("executions › order-1001@r1001-7f › " + want)
	}
	h.press("shift+tab")
	if d.tab != tabPlan {
		t.Fatalf("shift+tab went to %s", tabNames[d.tab])
	}
	h.press("2")
	h.wantScreenContains("ship-order  requested 2h ago, times out in 2d22h  approvers: alice, bob")
	h.press("4")
	h.wantScreenContains("main", "approval ship-order requested 2h ago", "reminder")
	h.press("esc")
	if _, ok := h.m.top().(*runList); !ok {
		t.Fatal("esc did not go back to the list")
	}
}

func TestHistorySearchHighlightsAndJumps(t *testing.T) {
	h, d := openOrder1001(t, Options{})
	h.press("3", "/")
	h.typeText("worker")
	// Matches: the three WorkflowTaskCompleted events (by worker-1/2), and
	// ActivityAttemptFailed ("warehouse API" is not "worker"): 3 matches.
	if got := len(d.hist.matches); got != 3 {
		t.Fatalf("%d matches for worker", got)
	}
	h.wantScreenContains("1/3")
	h.press("enter", "n")
	if e, _ := d.hist.selected(d.events); e.ID != 6 {
		t.Fatalf("n moved to #%d, want #6", e.ID)
	}
	h.press("N", "N")
	if e, _ := d.hist.selected(d.events); e.ID != 9 {
		t.Fatalf("N N moved to #%d, want #9 (wrapping)", e.ID)
	}
	// The highlight is styled: the match is wrapped in the Match style.
	if !strings.Contains(h.m.View().Content, h.m.st.Match.Render("worker")) {
		t.Fatal("no highlighted match in the frame")
	}
	h.press("/", "esc")
	if d.hist.term != "" || len(d.hist.matches) != 0 {
		t.Fatal("esc in the search bar did not clear the search")
	}
}

func TestHistoryMarksFailuresAndExpandsJSON(t *testing.T) {
	h, d := openOrder1001(t, Options{})
	h.resize(160, 48)
	h.press("3")
	h.wantScreenContains("✗ ActivityAttemptFailed", "ReserveStock attempt 1: Timeout: warehouse API did not answer; retry in 2.0s",
		"ReserveStock took 3.5s (attempt 2)")
	h.press("j", "j", "j", "enter")
	h.wantScreenContains(`"message": "warehouse API did not answer"`)
	h.press("Y")
	var e engine.Event
	if err := json.Unmarshal([]byte(h.clipboard[len(h.clipboard)-1]), &e); err != nil || e.ID != 4 {
		t.Fatalf("copied %q (%v)", h.clipboard, err)
	}
	h.press("enter")
	if d.hist.expanded[4] {
		t.Fatal("enter did not fold the event")
	}
}

func TestQueryTabRunsHandlersAndLearnsTheirNames(t *testing.T) {
	h, d := openOrder1001(t, Options{})
	h.press("5")
	h.typeText("nosuch")
	h.press("enter")
	h.wantScreenContains(`no query handler "nosuch"`)
	if !strings.Contains(strings.Join(d.query.known, " "), "status") {
		t.Fatalf("known handlers %v", d.query.known)
	}
	h.press("ctrl+u")
	h.typeText("st")
	h.press("tab")
	if got := d.query.name.value(); got != "status" {
		t.Fatalf("tab completed %q", got)
	}
	h.press("tab")
	h.typeText(`{"verbose": tru}`)
	h.press("ctrl+s")
	h.wantScreenContains("invalid JSON at line 1")
	h.press("backspace")
	h.typeText("e}")
	h.press("ctrl+s")
	h.wantScreenContains("Result of status", `"stage": "awaiting approval"`)
	var asked string
	for _, c := range h.b.Calls() {
		if strings.HasPrefix(c, "query order-1001 r1001-7f3a9c21 status") {
			asked = c
		}
	}
	if asked != `query order-1001 r1001-7f3a9c21 status {"verbose": true}` {
		t.Fatalf("asked %q", asked)
	}
	// Esc leaves the form; y then copies the id instead of typing it.
	h.press("esc", "y")
	if got := h.clipboard[len(h.clipboard)-1]; got != "order-1001" {
		t.Fatalf("clipboard %q", got)
	}
}

func TestCopyFromTheList(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "refund-77")
	h.press("y", "Y")
	if len(h.clipboard) != 2 || h.clipboard[0] != "refund-77" || !strings.Contains(h.clipboard[1], `"run_id": "r0077-91d2aa03"`) {
		t.Fatalf("clipboard %q", h.clipboard)
	}
	h.wantScreenContains("copied run refund-77 as JSON")
}

// The text tabs scroll by line, by page and to either end, and no further
// than their last line (order-1001's overview is 21 lines over 17 rows).
func TestDetailTextScrolls(t *testing.T) {
	h, d := openOrder1001(t, Options{})
	text := strings.Split(ansi.Strip(d.tabText(h.m, h.m.w)), "\n")
	rows := d.bodyRows(h.m)
	if len(text) <= rows {
		t.Fatalf("the overview has %d lines for %d rows: nothing to scroll", len(text), rows)
	}
	body := func() []string { // the rows under the tab bar and its rule
		return strings.Split(h.screen(), "\n")[h.m.bodyTop()+2:][:rows]
	}
	wantTop := func(keys string, line int) {
		t.Helper()
		if got, want := strings.TrimRight(body()[0], " "), strings.TrimRight(text[line], " "); got != want {
			t.Fatalf("after %s the first row is %q, want line %d %q", keys, got, line+1, want)
		}
	}
	wantTop("opening", 0)
	h.press("j")
	wantTop("j", 1)
	h.press("G")
	wantTop("G", len(text)-rows)
	h.press("j", "ctrl+d")
	wantTop("G j ctrl+d", len(text)-rows)
	h.press("k")
	wantTop("G k", len(text)-rows-1)
	h.press("ctrl+u")
	wantTop("ctrl+u", 0)
	h.press("G", "2", "1")
	wantTop("another tab and back", 0)
}
