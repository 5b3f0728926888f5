package tui

import (
	"slices"
	"sync/atomic"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// rowWindow holds a sliding window of search results over any number of
// matches. Pages come from search-after cursors, so it never loads
// everything and never asks the index for a deep offset: it walks pages
// from the top (the sort as asked) or from the bottom (the sort reversed,
// which is how G reaches the last rows of 100,000 matches in one request).
// Cursors are kept for every page seen (a few strings each); rows are kept
// only for the pages around the cursor.
type rowWindow struct {
	size  int // rows per page
	keep  int // pages kept around the cursor
	gen   int // bumped by reset; replies of older generations are dropped
	chain chainDir
	total int
	known bool // a page arrived since the last reset
	end   int  // last page of the chain, -1 while unknown

	cursors  map[int][]string
	pages    map[int][]searchapi.Doc
	reqSeq   map[int]int
	inflight map[int]bool
	seq      int
}

// chainDir says from which end pages are walked.
type chainDir int

const (
	fromTop chainDir = iota
	fromBottom
)

// pageReq asks for one page of a window; the reply is matched back by gen,
// page and seq.
type pageReq struct {
	gen   int
	chain chainDir
	page  int
	seq   int
	after []string
}

// windowGen numbers window generations across all windows, so a reply
// meant for a window that was replaced never lands in its successor.
var windowGen atomic.Int64

func newRowWindow(size, keep int) *rowWindow {
	w := &rowWindow{size: size, keep: keep}
	w.reset(fromTop)
	return w
}

// reset forgets every row and cursor, for a new query, sort or end.
func (w *rowWindow) reset(chain chainDir) {
	w.gen = int(windowGen.Add(1))
	w.chain = chain
	w.known = false
	w.end = -1
	w.cursors = map[int][]string{}
	w.pages = map[int][]searchapi.Doc{}
	w.reqSeq = map[int]int{}
	w.inflight = map[int]bool{}
}

// loading tells whether any page is on its way.
func (w *rowWindow) loading() bool { return len(w.inflight) > 0 }

// loadedRows counts the rows held in memory.
func (w *rowWindow) loadedRows() int {
	n := 0
	for _, p := range w.pages {
		n += len(p)
	}
	return n
}

// pageOf returns the page of the current chain that holds row r.
func (w *rowWindow) pageOf(r int) int {
	if w.chain == fromTop {
		return r / w.size
	}
	e := w.total - 1 - r
	if e < 0 {
		return 0
	}
	return e / w.size
}

// row returns row r when its page is loaded.
func (w *rowWindow) row(r int) (*searchapi.Doc, bool) {
	if r < 0 || (w.known && r >= w.total) {
		return nil, false
	}
	p := w.pageOf(r)
	pg, ok := w.pages[p]
	if !ok {
		return nil, false
	}
	o := r % w.size
	if w.chain == fromBottom {
		o = r - (w.total - p*w.size - len(pg))
	}
	if o < 0 || o >= len(pg) {
		return nil, false
	}
	return &pg[o], true
}

// find returns the row index of a loaded run, or -1.
func (w *rowWindow) find(runID string) int {
	for p, pg := range w.pages {
		for o := range pg {
			if pg[o].RunID != runID {
				continue
			}
			if w.chain == fromTop {
				return p*w.size + o
			}
			return w.total - p*w.size - len(pg) + o
		}
	}
	return -1
}

func (w *rowWindow) hasCursor(p int) bool {
	if p == 0 {
		return true
	}
	_, ok := w.cursors[p]
	return ok
}

// want returns the requests that bring rows lo..hi into memory. A page
// whose cursor is not known yet waits for its predecessor, which is asked
// for instead.
func (w *rowWindow) want(lo, hi int) []pageReq {
	if !w.known {
		if w.inflight[0] {
			return nil
		}
		return []pageReq{w.request(0)}
	}
	lo, hi = max(lo, 0), min(hi, w.total-1)
	if lo > hi {
		return nil
	}
	a, b := w.pageOf(lo), w.pageOf(hi)
	if a > b {
		a, b = b, a
	}
	var reqs []pageReq
	for p := a; p <= b; p++ {
		q := p
		for q > 0 && !w.hasCursor(q) {
			q--
		}
		if w.end >= 0 && q > w.end {
			continue
		}
		if _, ok := w.pages[q]; ok || w.inflight[q] {
			continue
		}
		reqs = append(reqs, w.request(q))
	}
	return reqs
}

func (w *rowWindow) request(p int) pageReq {
	w.seq++
	w.reqSeq[p] = w.seq
	w.inflight[p] = true
	return pageReq{gen: w.gen, chain: w.chain, page: p, seq: w.seq, after: w.cursors[p]}
}

// refresh asks again for every loaded page (live updates), keeping the old
// rows on screen until the new ones arrive.
func (w *rowWindow) refresh() []pageReq {
	if len(w.pages) == 0 {
		if w.inflight[0] {
			return nil
		}
		return []pageReq{w.request(0)}
	}
	ps := make([]int, 0, len(w.pages))
	for p := range w.pages {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	reqs := make([]pageReq, 0, len(ps))
	for _, p := range ps {
		reqs = append(reqs, w.request(p))
	}
	return reqs
}

// apply stores a page. It returns false for a stale reply, and the
// requests needed when the page moved its successor's cursor (rows were
// inserted or removed before it).
func (w *rowWindow) apply(req pageReq, res searchapi.SearchResult) (bool, []pageReq) {
	if req.gen != w.gen || req.seq < w.reqSeq[req.page] {
		return false, nil
	}
	delete(w.inflight, req.page)
	hits := res.Hits
	if w.chain == fromBottom {
		hits = slices.Clone(hits)
		slices.Reverse(hits)
	}
	w.pages[req.page] = hits
	w.total = int(res.Total)
	w.known = true
	var follow []pageReq
	if len(res.Next) == 0 || len(res.Hits) < w.size {
		w.end = req.page
		for p := range w.pages {
			if p > req.page {
				delete(w.pages, p)
			}
		}
		return true, nil
	}
	if w.end == req.page {
		w.end = -1
	}
	next := req.page + 1
	old, had := w.cursors[next]
	w.cursors[next] = res.Next
	if _, loaded := w.pages[next]; loaded && had && !slices.Equal(old, res.Next) {
		// The successor was read from a cursor that moved: its rows may
		// repeat rows of this page (a run that moved up) until it is read
		// again, so it is dropped rather than drawn twice.
		delete(w.pages, next)
		follow = append(follow, w.request(next))
	}
	return true, follow
}

// fail forgets an in-flight request so it can be asked again.
func (w *rowWindow) fail(req pageReq) {
	if req.gen == w.gen && req.seq == w.reqSeq[req.page] {
		delete(w.inflight, req.page)
	}
}

// evict drops rows of pages far from row r.
func (w *rowWindow) evict(r int) {
	c := w.pageOf(r)
	for p := range w.pages {
		if p < c-w.keep/2 || p > c+w.keep/2 {
			delete(w.pages, p)
		}
	}
}
