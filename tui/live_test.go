package tui

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// liveBackend holds n runs, run i started i minutes before the clock, so
// the default sort (newest first) lists run 0 first.
func liveBackend(n int) *fakeBackend {
	b := newFakeBackend(testClock)
	for i := range n {
		b.docs = append(b.docs, liveDoc(i, testClock.Add(-time.Duration(i)*time.Minute)))
	}
	return b
}

func liveDoc(i int, start time.Time) searchapi.Doc {
	return searchapi.Doc{WorkflowID: fmt.Sprintf("job-%04d", i), RunID: fmt.Sprintf("run-%04d", i), Type: "Job",
		Status: engine.StatusRunning, StartTime: start, LastEventTime: start}
}

// arrive adds n newer runs and delivers the debounced refresh.
func arrive(h *harness, from, n int) {
	h.b.mu.Lock()
	for i := range n {
		h.b.docs = append(h.b.docs, liveDoc(from+i, testClock.Add(time.Duration(from+i)*time.Second)))
	}
	h.b.mu.Unlock()
	h.send(indexUpdatedMsg{})
	h.send(refreshDueMsg{})
}

func TestCursorOnTheFirstRowFollowsNewRuns(t *testing.T) {
	h := newHarness(t, liveBackend(300), Options{})
	if got := selectedID(h); got != "job-0000" {
		t.Fatalf("first row %s", got)
	}
	arrive(h, 1000, 1)
	if got := selectedID(h); got != "job-1000" {
		t.Fatalf("cursor on the first row stayed on %s; the new run job-1000 should take it", got)
	}
	if l := h.list(); l.offset != 0 || l.newAbove != 0 {
		t.Fatalf("offset %d, new above %d: the head is not shown", l.offset, l.newAbove)
	}
	h.wantScreenContains("job-1000", "job-0000")
}

func TestNewRunsAboveTheViewAreCountedAndGShowsThem(t *testing.T) {
	h := newHarness(t, liveBackend(300), Options{})
	for range 30 {
		h.press("j")
	}
	if got := selectedID(h); got != "job-0030" {
		t.Fatalf("after 30 down: %s", got)
	}
	arrive(h, 1000, 2)
	if got := selectedID(h); got != "job-0030" {
		t.Fatalf("cursor moved to %s when runs arrived above", got)
	}
	h.wantScreenContains("↑ 2 new (g)")
	// More arrive while the first two are not read yet: g reads the head
	// again and lands on the newest.
	h.b.mu.Lock()
	h.b.docs = append(h.b.docs, liveDoc(2000, testClock.Add(time.Hour)))
	h.b.mu.Unlock()
	h.press("g")
	if got := selectedID(h); got != "job-2000" {
		t.Fatalf("g went to %s, want the newest run job-2000", got)
	}
	if h.list().newAbove != 0 {
		t.Fatal("the new-rows count stays after g")
	}
}

// A run that moved from page 1 to page 0 (the sort key changed) must not
// be drawn twice while page 1 is read again from its moved cursor.
func TestARunThatMovedUpIsNotDrawnTwice(t *testing.T) {
	w := newRowWindow(3, 6)
	page := func(ids ...int) searchapi.SearchResult {
		res := searchapi.SearchResult{Total: 6}
		for _, i := range ids {
			res.Hits = append(res.Hits, searchapi.Doc{RunID: "r" + strconv.Itoa(i)})
		}
		res.Next = []string{"after-r" + strconv.Itoa(ids[len(ids)-1])}
		return res
	}
	reqs := w.want(0, 0)
	w.apply(reqs[0], page(0, 1, 2))
	_, _ = w.apply(w.want(3, 5)[0], page(3, 4, 5))
	// r4 moves to the top; page 0 is read first.
	refresh := w.refresh()
	if ok, _ := w.apply(refresh[0], page(4, 0, 1)); !ok {
		t.Fatal("refresh of page 0 dropped")
	}
	seen := map[string]int{}
	for r := range 6 {
		if d, ok := w.row(r); ok {
			if prev, dup := seen[d.RunID]; dup {
				t.Fatalf("%s drawn at rows %d and %d", d.RunID, prev, r)
			}
			seen[d.RunID] = r
		}
	}
}
