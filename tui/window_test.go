package tui

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// page answers a window request from a list of n runs named run-0..n-1,
// in the order of the chain (from the top, or reversed from the bottom).
func page(n, size int, req pageReq) searchapi.SearchResult {
	start := 0
	if len(req.after) == 1 {
		start, _ = strconv.Atoi(req.after[0])
	}
	res := searchapi.SearchResult{Total: uint64(n)}
	for p := start; p < min(start+size, n); p++ {
		i := p
		if req.chain == fromBottom {
			i = n - 1 - p
		}
		res.Hits = append(res.Hits, searchapi.Doc{RunID: fmt.Sprintf("run-%d", i)})
	}
	if start+size < n {
		res.Next = []string{strconv.Itoa(start + size)}
	}
	return res
}

func serve(t *testing.T, w *rowWindow, n int, reqs []pageReq) {
	t.Helper()
	for len(reqs) > 0 {
		r := reqs[0]
		reqs = reqs[1:]
		ok, follow := w.apply(r, page(n, w.size, r))
		if !ok {
			t.Fatalf("request %+v was refused", r)
		}
		reqs = append(reqs, follow...)
	}
}

func rowID(w *rowWindow, r int) string {
	d, ok := w.row(r)
	if !ok {
		return "-"
	}
	return d.RunID
}

func TestWindowWalksPagesByCursor(t *testing.T) {
	w := newRowWindow(10, 4)
	serve(t, w, 95, w.want(0, 5))
	if w.total != 95 || rowID(w, 9) != "run-9" || rowID(w, 10) != "-" {
		t.Fatalf("first page: total %d, row 9 %s, row 10 %s", w.total, rowID(w, 9), rowID(w, 10))
	}
	// Rows 25..35 need pages 2 and 3; page 2's cursor is not known yet, so
	// page 1 is asked first, then the rest follow as cursors arrive.
	for range 4 {
		serve(t, w, 95, w.want(25, 35))
	}
	if rowID(w, 25) != "run-25" || rowID(w, 35) != "run-35" {
		t.Fatalf("rows 25 and 35: %s %s", rowID(w, 25), rowID(w, 35))
	}
	w.evict(30)
	if rowID(w, 0) != "-" || rowID(w, 30) != "run-30" {
		t.Fatal("eviction kept far rows or dropped near ones")
	}
	if w.loadedRows() > w.size*(w.keep+1) {
		t.Fatalf("%d rows held", w.loadedRows())
	}
}

func TestWindowFromTheBottomNumbersRowsFromTheEnd(t *testing.T) {
	w := newRowWindow(10, 4)
	w.reset(fromBottom)
	serve(t, w, 95, w.want(0, 0))
	if rowID(w, 94) != "run-94" || rowID(w, 85) != "run-85" || rowID(w, 84) != "-" {
		t.Fatalf("last page: 94=%s 85=%s 84=%s", rowID(w, 94), rowID(w, 85), rowID(w, 84))
	}
	for range 10 {
		serve(t, w, 95, w.want(0, 10))
	}
	if rowID(w, 0) != "run-0" || rowID(w, 4) != "run-4" {
		t.Fatalf("short first page from the bottom: 0=%s 4=%s", rowID(w, 0), rowID(w, 4))
	}
}

func TestWindowDropsStaleReplies(t *testing.T) {
	w := newRowWindow(10, 4)
	old := w.want(0, 0)[0]
	w.reset(fromTop) // a new query: the old reply must not land
	if ok, _ := w.apply(old, page(95, 10, old)); ok {
		t.Fatal("a reply of a previous generation was applied")
	}
	serve(t, w, 95, w.want(0, 0))
	first := w.refresh()[0]
	second := w.refresh()[0] // a second refresh before the first came back
	if ok, _ := w.apply(first, page(95, 10, first)); ok {
		t.Fatal("an older reply for a page overwrote a newer request")
	}
	if ok, _ := w.apply(second, page(95, 10, second)); !ok {
		t.Fatal("the newest reply was refused")
	}
}

func TestWindowRefreshRefetchesASuccessorWhoseCursorMoved(t *testing.T) {
	w := newRowWindow(10, 4)
	for range 3 {
		serve(t, w, 95, w.want(0, 15))
	}
	reqs := w.refresh()
	if len(reqs) != 2 {
		t.Fatalf("refresh of 2 pages asked %d", len(reqs))
	}
	// Page 0 now ends elsewhere (rows were inserted): page 1 is asked again
	// from the new cursor.
	res := page(95, 10, reqs[0])
	res.Next = []string{"7"}
	_, follow := w.apply(reqs[0], res)
	if len(follow) != 1 || follow[0].page != 1 || follow[0].after[0] != "7" {
		t.Fatalf("follow-up %+v", follow)
	}
}
