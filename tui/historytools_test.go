package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/foremanhq/foreman/engine"
)

func openRun(t *testing.T, wf string) (*harness, *detailScreen) {
	t.Helper()
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, wf)
	h.press("enter")
	return h, h.detail()
}

func selectedEventID(d *detailScreen) int64 {
	e, _ := d.hist.selected(d.events)
	return e.ID
}

// n/N jump from failure to failure (wrapping) when no search is applied;
// f keeps the failures, c folds the workflow-task bookkeeping, t filters
// by type (a misspelt type says so and keeps the prompt open).
func TestHistoryFiltersAndFailureJumps(t *testing.T) {
	h, d := openRun(t, "order-1002") // three failed Charge attempts: #5, #6, #7
	h.press("3")
	for i, want := range []int64{5, 6, 7, 5} {
		h.press("n")
		if got := selectedEventID(d); got != want {
			t.Fatalf("n #%d: at #%d, want #%d", i+1, got, want)
		}
	}
	h.press("N")
	if got := selectedEventID(d); got != 7 {
		t.Fatalf("N: at #%d, want #7 (wrapping back)", got)
	}
	h.press("f")
	h.wantScreenContains("3 of 7 events", "failures only")
	if got := selectedEventID(d); got != 7 || len(d.hist.shown) != 3 {
		t.Fatalf("failures only: %d shown, cursor at #%d", len(d.hist.shown), got)
	}
	h.press("f")
	if len(d.hist.shown) != 7 {
		t.Fatalf("f again: %d shown", len(d.hist.shown))
	}

	h, d = openRun(t, "order-1001")
	h.resize(160, 48)
	h.press("3", "c")
	h.wantScreenContains("9 of 12 events", "compact")
	if strings.Contains(h.screen(), "WorkflowTaskCompleted") {
		t.Fatalf("compact shows workflow-task bookkeeping:\n%s", h.screen())
	}
	h.press("c", "t")
	h.typeText("activty")
	h.press("enter")
	h.wantScreenContains(`no event type contains "activty"`)
	h.press("ctrl+u")
	h.typeText("activity,signal")
	h.press("enter")
	h.wantScreenContains("4 of 12 events", "types ActivityAttemptFailed")
	for _, i := range d.hist.shown {
		if ty := d.events[i].Type; !strings.HasPrefix(string(ty), "Activity") && ty != engine.EventSignalReceived {
			t.Fatalf("the type filter shows a %s", ty)
		}
	}
	// with a search applied, n goes back to jumping between matches
	h.press("/")
	h.typeText("lyon")
	h.press("enter", "g", "n")
	if got := selectedEventID(d); got != 8 {
		t.Fatalf("n with a search: at #%d, want the match #8", got)
	}
}

func ev(id int64, typ engine.EventType, attrs any) engine.Event {
	return engine.Event{ID: id, Type: typ, Attrs: attrs}
}

// Two histories align by type and what each decision names: the common
// start and end pair up, a different activity at the same place is a
// changed row, and what only one side has shows on its side.
func TestAlignHistories(t *testing.T) {
	act := func(id int64, name string) engine.Event {
		return ev(id, engine.EventActivityScheduled, &engine.ActivityScheduled{ActivityType: name})
	}
	wtc := func(id int64) engine.Event {
		return ev(id, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{})
	}
	good := []engine.Event{ev(1, engine.EventWorkflowStarted, &engine.WorkflowStarted{}), act(2, "Reserve"), wtc(3),
		ev(4, engine.EventActivityCompleted, &engine.ActivityCompleted{}), act(5, "Charge"), wtc(6),
		ev(7, engine.EventActivityCompleted, &engine.ActivityCompleted{}), wtc(8), ev(9, engine.EventWorkflowCompleted, &engine.WorkflowCompleted{})}
	bad := []engine.Event{ev(1, engine.EventWorkflowStarted, &engine.WorkflowStarted{}), act(2, "Reserve"), wtc(3),
		ev(4, engine.EventActivityCompleted, &engine.ActivityCompleted{}), act(5, "ChargeV2"), wtc(6),
		ev(7, engine.EventActivityAttemptFailed, &engine.ActivityAttemptFailed{}),
		ev(8, engine.EventActivityFailed, &engine.ActivityFailed{}), wtc(9), ev(10, engine.EventWorkflowFailed, &engine.WorkflowFailed{})}
	var got []string
	for _, r := range alignHistories(good, bad) {
		got = append(got, fmt.Sprintf("%d/%d%s", r.a+1, r.b+1, map[diffKind]string{diffSame: "", diffChanged: "≠", diffLeft: "<", diffRight: ">"}[r.kind]))
	}
	want := "1/1 2/2 3/3 4/4 5/5≠ 6/6 7/7≠ 0/8> 8/9 9/10≠"
	if strings.Join(got, " ") != want {
		t.Fatalf("aligned %s\n   want %s", strings.Join(got, " "), want)
	}
	if rows := alignHistories(good, good); len(rows) != len(good) || rows[4].kind != diffSame {
		t.Fatalf("a history against itself: %v", rows)
	}
}

// D diffs the run with the one marked in the list, or asks which run;
// n/N jump between the divergences.
func TestHistoryDiffScreen(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	onRun(h, "order-1002")
	h.press("space")
	onRun(h, "order-1001")
	h.press("enter", "3", "D")
	diff, ok := h.m.top().(*historyDiff)
	if !ok {
		t.Fatalf("D with one run marked opened %T", h.m.top())
	}
	if diff.right.t.WorkflowID != "order-1002" || len(diff.rows) == 0 || len(diff.diverge) == 0 {
		t.Fatalf("diff of order-1001 and order-1002: %+v", diff.rows)
	}
	h.wantScreenContains("rows diverge, first at", "order-1001@", "order-1002@")
	first := diff.cursor
	if first != diff.diverge[0] {
		t.Fatalf("the diff opens at row %d, not the first divergence %d", first, diff.diverge[0])
	}
	h.press("n")
	if diff.cursor != diff.diverge[1] {
		t.Fatalf("n: row %d, want %d", diff.cursor, diff.diverge[1])
	}
	h.press("N")
	if diff.cursor != first {
		t.Fatalf("N: row %d, want %d", diff.cursor, first)
	}
	h.press("esc")
	if _, ok := h.m.top().(*detailScreen); !ok {
		t.Fatalf("esc from the diff: %T", h.m.top())
	}

	// from the list: :diff compares the two runs marked
	h = newHarness(t, newFixtureBackend(), Options{})
	h.press(":")
	h.typeText("diff")
	h.press("enter")
	h.wantScreenContains("mark two runs")
	onRun(h, "order-1002")
	h.press("space")
	onRun(h, "order-1001")
	h.press("space", ":")
	h.typeText("diff")
	h.press("enter")
	if diff, ok := h.m.top().(*historyDiff); !ok || !diff.ready() || diff.left.t.WorkflowID != "order-1001" || diff.right.t.WorkflowID != "order-1002" {
		t.Fatalf(":diff with two runs marked opened %T", h.m.top())
	}
	h.wantScreenContains("rows diverge")

	// nothing marked: a prompt for the run
	h, d := openRun(t, "order-1001")
	h.press("3", "D")
	h.wantScreenContains("diff with")
	h.press("enter")
	h.wantScreenContains("name a workflow id")
	h.typeText("order-1002@r1002-0b44e810")
	h.press("enter")
	if diff, ok := h.m.top().(*historyDiff); !ok || diff.right.x == nil || diff.right.x.WorkflowID != "order-1002" || diff.left.t.RunID != d.run {
		t.Fatalf("the prompt opened %T", h.m.top())
	}
}

// An imported run is marked in the detail header and takes no write: its
// write keys are refused up front and the footer offers none.
func TestImportedRunIsReadOnlyInTheConsole(t *testing.T) {
	b := newFixtureBackend()
	hist := fixtureHistory()
	b.histories["r1001-7f3a9c21"] = append(hist, engine.Event{ID: 13, Type: engine.EventRunImported, Time: hist[len(hist)-1].Time,
		Attrs: &engine.RunImported{Format: engine.ExportFormat, Source: "nats://prod:4222", Identity: "ops"}})
	h := newHarness(t, b, Options{})
	h.resize(160, 48)
	onRun(h, "order-1001")
	h.press("enter")
	h.wantScreenContains("imported · read-only")
	h.press("T")
	if h.m.modal != nil {
		t.Fatal("terminate opened a dialog on an imported run")
	}
	h.wantScreenContains("order-1001 is an imported read-only copy: terminate does not apply")
	if strings.Contains(h.screen(), "T terminate") {
		t.Fatal("the footer offers terminate on an imported run")
	}
	h.press("3", "G")
	h.wantScreenContains("RunImported", "read-only copy of nats://prod:4222")
}

// The history tools at both sizes: filters, the type prompt, the diff.
func TestHistoryToolsGolden(t *testing.T) {
	scenes := []struct {
		name  string
		setup func(h *harness)
	}{
		{"failures", func(h *harness) { onRun(h, "order-1001"); h.press("enter", "3", "f") }},
		{"compact", func(h *harness) { onRun(h, "order-1001"); h.press("enter", "3", "c", "n") }},
		{"type_prompt", func(h *harness) { onRun(h, "order-1001"); h.press("enter", "3", "t"); h.typeText("activity") }},
		{"diff", func(h *harness) {
			onRun(h, "order-1002")
			h.press("space")
			onRun(h, "order-1001")
			h.press("enter", "3", "D")
		}},
	}
	for _, sc := range scenes {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, size[0], size[1]), func(t *testing.T) {
				h := newHarness(t, newFixtureBackend(), Options{})
				h.resize(size[0], size[1])
				sc.setup(h)
				h.golden()
			})
		}
	}
}
