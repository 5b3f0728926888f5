package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

func selectedID(h *harness) string {
	h.t.Helper()
	d, ok := h.list().selected()
	if !ok {
		h.t.Fatalf("no row under the cursor (row %d)", h.list().cursor)
	}
	return d.WorkflowID
}

func TestListNavigatesWithVimKeysAndArrows(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	steps := []struct {
		keys []string
		want string
	}{
		{nil, "import-2026-11"},
		{[]string{"j"}, "order-1002"},
		{[]string{"down", "down"}, "order-0999"},
		{[]string{"k"}, "order-1001"},
		{[]string{"G"}, "onboard-alice"},
		{[]string{"up"}, "report-daily"},
		{[]string{"g"}, "import-2026-11"},
		{[]string{"ctrl+d"}, "report-daily"}, // half of the 18 rows shown
		{[]string{"ctrl+u"}, "import-2026-11"},
		{[]string{"k"}, "import-2026-11"}, // stays on the first row
	}
	for _, s := range steps {
		h.press(s.keys...)
		if got := selectedID(h); got != s.want {
			t.Fatalf("after %v: cursor on %s, want %s", s.keys, got, s.want)
		}
	}
	// Enter drills down, Esc comes back to the same row.
	h.press("j", "j", "enter")
	if d := h.detail(); d.wf != "order-1001" || d.run != "r1001-7f3a9c21" {
		t.Fatalf("opened %s/%s", d.wf, d.run)
	}
	h.wantScreenContains("executions › order-1001@r1001-7f › Overview")
	h.press("esc")
	if got := selectedID(h); got != "order-1001" {
		t.Fatalf("back on %s, want order-1001", got)
	}
}

func TestListPagesThroughAHundredThousandMatchesHoldingAWindow(t *testing.T) {
	b := newFakeBackend(testClock)
	b.synthetic = 100_000
	h := newHarness(t, b, Options{})
	l := h.list()
	if l.win.total != 100_000 {
		t.Fatalf("total %d", l.win.total)
	}
	h.press("G")
	if l.cursor != 99_999 || selectedID(h) != "order-099999" {
		t.Fatalf("G: cursor %d on %s, want the last run", l.cursor, selectedID(h))
	}
	searchesAfterG := len(b.searches)
	// Walk up across page boundaries of the reversed walk.
	for range 250 {
		h.press("k")
	}
	if want := "order-099749"; selectedID(h) != want {
		t.Fatalf("250 up from the end: %s, want %s", selectedID(h), want)
	}
	if n := len(b.searches) - searchesAfterG; n > 5 {
		t.Fatalf("walking 250 rows asked for %d pages", n)
	}
	h.press("g")
	for range 30 {
		h.press("ctrl+f")
		if n := l.win.loadedRows(); n > pageSize*pagesKept {
			t.Fatalf("holds %d rows, more than the %d-row window", n, pageSize*pagesKept)
		}
	}
	want := 30 * l.height
	if l.cursor != want || selectedID(h) != syntheticDoc(testClock, want).WorkflowID {
		t.Fatalf("after 30 pages: row %d (%s), want %d", l.cursor, selectedID(h), want)
	}
	for _, req := range b.searches {
		if req.Size > pageSize {
			t.Fatalf("asked for %d rows at once", req.Size)
		}
	}
}

func TestListSortsByColumn(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	// o cycles the sort column; stop at WORKFLOW ID.
	for range len(executionColumns) {
		if h.list().cols[h.list().sortBy].title == "WORKFLOW ID" {
			break
		}
		h.press("o")
	}
	// Names sort A to Z first.
	h.wantScreenContains("WORKFLOW ID▲")
	if got := b.searches[len(b.searches)-1].Sort; strings.Join(got, ",") != "workflow_id,run_id" {
		t.Fatalf("sort sent %v", got)
	}
	if got := selectedID(h); got != "import-2026-11" {
		t.Fatalf("first by id ascending: %s", got)
	}
	h.press("O")
	h.wantScreenContains("WORKFLOW ID▼")
	if got := selectedID(h); got != "report-daily" {
		t.Fatalf("first by id descending: %s", got)
	}
}

func TestLiveUpdatesAreDebouncedAndKeepTheCursorOnItsRun(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	h.press("j", "j") // order-1001
	before := len(b.searches)
	h.ticks = nil
	for range 3 {
		h.send(indexUpdatedMsg{})
	}
	if len(h.ticks) != 1 || h.ticks[0] != debounce {
		t.Fatalf("three updates scheduled %v, want one refresh after %v", h.ticks, debounce)
	}
	if len(b.searches) != before {
		t.Fatal("refreshed before the debounce window passed")
	}
	// A new run arrives at the top while the operator looks at order-1001.
	b.mu.Lock()
	b.docs = append(b.docs, searchapi.Doc{WorkflowID: "order-2000", RunID: "r2000-00000000", Type: "OrderWorkflow",
		Status: engine.StatusRunning, StartTime: testClock.Add(-time.Second), LastEventTime: testClock})
	b.mu.Unlock()
	h.send(refreshDueMsg{})
	if len(b.searches) != before+1 {
		t.Fatalf("one refresh should read one page, read %d", len(b.searches)-before)
	}
	if got := selectedID(h); got != "order-1001" {
		t.Fatalf("cursor moved to %s when a row was inserted above", got)
	}
	h.wantScreenContains("12 matches", "order-2000")
	if h.m.live.pending {
		t.Fatal("refresh still pending")
	}
}

func TestQueryBarShowsTheErrorAtItsPositionAndKeepsRows(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	h.press("/")
	h.typeText("type:OrderWorkflow status:runing")
	h.press("enter")
	qb, ok := h.m.modal.(*queryBar)
	if !ok {
		t.Fatalf("the bar closed on a bad query (modal %T)", h.m.modal)
	}
	if qb.err == nil {
		t.Fatal("no error shown")
	}
	lines := strings.Split(h.screen(), "\n")
	caret := strings.Index(lines[3], "^")
	if want := 2 + len("type:OrderWorkflow status:"); caret != want {
		t.Fatalf("caret at column %d, want %d (under the value):\n%s\n%s", caret, want, lines[2], lines[3])
	}
	h.wantScreenContains(`unknown status "runing"`, "11 matches")
	if h.list().query != "" {
		t.Fatalf("list query changed to %q", h.list().query)
	}
	// Fixing it runs the search and closes the bar.
	h.press("backspace", "backspace", "backspace")
	h.typeText("ning")
	h.press("enter")
	if h.m.modal != nil {
		t.Fatal("bar still open after a good query")
	}
	h.wantScreenContains("3 matches", "executions /type:OrderWorkflow status:running")
	// The search is in the history: Up recalls it.
	h.press("/", "ctrl+u", "up")
	if got := h.m.modal.(*queryBar).in.value(); got != "type:OrderWorkflow status:running" {
		t.Fatalf("history recalled %q", got)
	}
}

func TestQueryErrorPointsIntoTheTypedQueryOfAPreset(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.press(":")
	h.typeText("running")
	h.press("enter", "/")
	h.typeText("status:nope")
	h.press("enter")
	qb := h.m.modal.(*queryBar)
	var ae *searchapi.APIError
	if !errorsAs(qb.err, &ae) || ae.Pos != len("status:") {
		t.Fatalf("error %v, want position %d within what was typed", qb.err, len("status:"))
	}
}

func TestSearchHistoryIsKeptInAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foreman", "searches")
	h := newHarness(t, newFixtureBackend(), Options{HistoryFile: path})
	h.press("/")
	h.typeText("type:RefundWorkflow")
	h.press("enter")
	data, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(data)) != "type:RefundWorkflow" {
		t.Fatalf("history file: %q, %v", data, err)
	}
	h2 := newHarness(t, newFixtureBackend(), Options{HistoryFile: path})
	h2.press("/", "ctrl+u", "up")
	if got := h2.m.modal.(*queryBar).in.value(); got != "type:RefundWorkflow" {
		t.Fatalf("a new session recalled %q", got)
	}
}

func TestStuckViewSaysWhy(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	h.press(":")
	h.typeText("stuck")
	h.press("enter")
	l := h.list()
	if l.kind != listStuck {
		t.Fatalf("top is %v", l.kind)
	}
	if q := b.searches[len(b.searches)-1].Query; q != "status:running last_event_time:<now-10m -waiting_on:approval" {
		t.Fatalf("stuck query %q", q)
	}
	// Longest without progress first; the import (5s ago) is not stuck,
	// and runs waiting on a person (approvals) are counted apart.
	var ids []string
	for r := 0; r < l.win.total; r++ {
		d, _ := l.win.row(r)
		ids = append(ids, d.WorkflowID)
	}
	if got := strings.Join(ids, " "); got != "onboard-alice order-0999 order-1002" {
		t.Fatalf("stuck runs: %s", got)
	}
	h.resize(160, 48)
	h.wantScreenContains("3 matches + 2 waiting on a person (:approvals)",
		"workflow task failing: history has ActivityScheduled Charge",
		"activity Charge failed attempt 3: card declined by issuer; next retry in 40s")
	h.press(":")
	h.typeText("stuck 3d")
	h.press("enter")
	if q := b.searches[len(b.searches)-1].Query; q != "status:running last_event_time:<now-3d -waiting_on:approval" {
		t.Fatalf("stuck 3d query %q", q)
	}
}

func TestPaletteCompletesCommandsAndSavedViews(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	h.press(":")
	h.typeText("ap")
	h.press("tab")
	if got := h.m.modal.(*palette).in.value(); got != "approvals" {
		t.Fatalf("tab completed %q", got)
	}
	h.press("enter")
	if _, ok := h.m.top().(*approvalsScreen); !ok {
		t.Fatalf("top is %T", h.m.top())
	}
	h.press("esc", ":")
	h.typeText("big")
	h.wantScreenContains("big-orders", "view: type:OrderWorkflow")
	h.press("enter")
	if l := h.list(); l.kind != listView || l.query != "type:OrderWorkflow" {
		t.Fatalf("view opened %v %q", l.kind, l.query)
	}
	h.press(":")
	h.typeText("save mine")
	h.press("enter")
	h.wantCalls("save-view mine type:OrderWorkflow")
	h.press(":")
	h.typeText("nosuch")
	h.press("enter")
	h.wantScreenContains(`unknown command "nosuch"`)
}

func TestQueuesViewCountsRunningWork(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.press(":")
	h.typeText("queues")
	h.press("enter")
	h.wantScreenContains("orders", "payments", "batch")
	q := h.m.top().(*queuesScreen)
	// rows[0] is the fixture's queue without a worker (pulse_test.go)
	if q.rows[1].name != "orders" || q.rows[1].running != 3 || q.rows[1].retrying != 1 || q.rows[1].failing != 1 {
		t.Fatalf("orders row: %+v", q.rows[1])
	}
	h.press("j", "enter")
	if l := h.list(); l.query != `task_queue:"orders"` || l.win.total != 3 {
		t.Fatalf("queue list %q with %d runs", l.query, l.win.total)
	}
}

func TestSmallTerminalGetsAPlainMessage(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.resize(79, 24)
	h.wantScreenContains("foreman needs a terminal of at least 80x24; this one is 79x24.")
	h.resize(80, 24)
	h.wantScreenContains("STATUS")
}

func TestMouseSelectsSortsAndScrolls(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{Mouse: true})
	if h.m.View().MouseMode == 0 {
		t.Fatal("mouse mode not requested")
	}
	h.send(mouseClick(10, 3+1+3)) // body starts at line 3; line 0 is the header row
	if got := selectedID(h); got != "order-0999" {
		t.Fatalf("click selected %s", got)
	}
	h.send(mouseClick(20, 3)) // the WORKFLOW ID header
	if c := h.list().cols[h.list().sortBy]; c.title != "WORKFLOW ID" {
		t.Fatalf("click on header sorted by %s", c.title)
	}
	h.send(mouseWheelDown())
	if h.list().cursor != 3 {
		t.Fatalf("wheel moved to %d", h.list().cursor)
	}
}

func TestThemeFollowsTheTerminalAndNoColor(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.send(lightBackground())
	if h.m.st.Dark || h.m.st.NoColor {
		t.Fatalf("light background gave dark=%v nocolor=%v", h.m.st.Dark, h.m.st.NoColor)
	}
	t.Setenv("NO_COLOR", "1")
	h2 := newHarness(t, newFixtureBackend(), Options{})
	h2.send(lightBackground())
	if !h2.m.st.NoColor {
		t.Fatal("NO_COLOR ignored")
	}
	if strings.Contains(h2.m.View().Content, "\x1b[38") {
		t.Fatal("colour escape codes with NO_COLOR")
	}
}

func TestUpdatesChannelDrivesRefreshesUntilItCloses(t *testing.T) {
	b := newFixtureBackend()
	h := newHarness(t, b, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	h.m.updates = b.Updates(ctx)
	b.updates <- struct{}{}
	b.updates <- struct{}{}
	if msg := h.m.listen()(); msg != (indexUpdatedMsg{}) {
		t.Fatalf("listen returned %T", msg)
	}
	cancel()
	for {
		msg := h.m.listen()()
		if _, closed := msg.(liveClosedMsg); closed {
			break
		}
	}
	h.send(liveClosedMsg{})
	h.wantScreenContains("○ updates off")
}
