package visibility

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"

	"github.com/foremanhq/foreman/visibility/fields"
	"github.com/foremanhq/foreman/visibility/query"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Search limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
	// CountLimit is where a search stops counting matches of a query the
	// index cannot count directly (phrases, wildcards, fuzzy matches);
	// SearchResult.TotalCapped then says Total is a lower bound. Counting
	// visits each match (a phrase match costs about a microsecond and a
	// half): at 10,000 it was half the time of a phrase search of a
	// million runs. Count, or ExactTotal, counts them all.
	CountLimit = 1000
	// maxFacets bounds SearchRequest.Facets, facetSize each facet's values.
	maxFacets = 8
	facetSize = 20
)

// plainLimit: a sorted search over at most this many matches lets bleve
// sort them all; beyond, it narrows by windows of the sort field. (A
// variable for tests.)
var plainLimit uint64 = 4096

// windowProbes counts window searches (tests check windows were used).
var windowProbes atomic.Int64

// windowFields are the sort fields every document has (the field table's
// Window), so a search sorted on them can narrow by ranges of the field
// without losing any run.
var windowFields = fields.NameSet(func(s *fields.Spec) bool { return s.Window })

// defaultSort is newest first.
var defaultSort = []string{"-start_time"}

// Search returns one page of the runs matching req.Query. Refusals are
// *APIError.
func (ix *Index) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	start := time.Now()
	size := req.Size
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0 || size > MaxPageSize:
		return nil, badRequest("size %d: want 1 to %d", req.Size, MaxPageSize)
	}
	if len(req.Facets) > maxFacets {
		return nil, badRequest("%d facets: at most %d", len(req.Facets), maxFacets)
	}
	if err := ix.waitFor(ctx, req.WaitForSeq); err != nil {
		return nil, err
	}
	schema := ix.reg.Schema()
	q, qsort, err := query.ParseWithSort(req.Query, schema, time.Now())
	if err != nil {
		return nil, badQuery(err)
	}
	sortBy := defaultSort
	switch {
	case len(req.Sort) > 0:
		if sortBy, err = query.ParseSort(req.Sort, schema); err != nil {
			return nil, badSort(err)
		}
	case len(qsort) > 0:
		sortBy = qsort
	}
	sortBy = withTieBreaker(sortPaths(sortBy, schema))
	q = asFilter(ix.rewriteRanges(q))
	after, err := decodeCursor(req.After, len(sortBy))
	if err != nil {
		return nil, err
	}
	facets := make([]string, 0, len(req.Facets))
	for _, name := range req.Facets {
		f, ok := schema.Lookup(name)
		if !ok || !f.Kind.Facetable() {
			return nil, badRequest("facet %q: want a keyword field (status, type, waiting_on, error_types, …)", name)
		}
		facets = append(facets, f.Path)
	}

	limit := uint64(CountLimit)
	if req.ExactTotal {
		limit = 0
	}
	total, exact, est, err := ix.count(ctx, q, limit)
	if err != nil {
		return nil, internalError(ctx, "counting matches", err)
	}
	var hits []hit
	primary, desc := strings.TrimPrefix(strings.TrimPrefix(sortBy[0], "-"), exactPrefix), strings.HasPrefix(sortBy[0], "-")
	if windowFields[primary] && (total > plainLimit || !exact) {
		hits, err = ix.searchWindows(ctx, q, sortBy, after, size, primary, desc, est)
	} else {
		hits, err = ix.topHits(ctx, q, sortBy, after, size)
	}
	if err != nil {
		return nil, internalError(ctx, "searching", err)
	}
	res := &SearchResult{Total: total, TotalCapped: !exact, Hits: make([]Doc, 0, len(hits))}
	for _, h := range hits {
		d, err := hitDoc(h)
		if err != nil {
			return nil, internalError(ctx, "reading a result", err)
		}
		res.Hits = append(res.Hits, d)
	}
	if len(hits) == size {
		res.Next = encodeCursor(hits[len(hits)-1].sort)
	}
	for _, f := range facets {
		gs, err := ix.groups(ctx, q, f, facetSize)
		if err != nil {
			return nil, internalError(ctx, "facet "+f, err)
		}
		if res.Facets == nil {
			res.Facets = map[string][]Group{}
		}
		res.Facets[f] = gs
	}
	res.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// sortPaths points sorts on numbers and times at their exact values
// (rangeindex.go).
func sortPaths(sortBy []string, schema query.Schema) []string {
	out := make([]string, len(sortBy))
	for i, s := range sortBy {
		desc, path := strings.HasPrefix(s, "-"), strings.TrimPrefix(s, "-")
		if f, ok := schema.Lookup(path); ok && f.Path == path && (f.Kind == query.KindNumber || f.Kind == query.KindTime) {
			path = exactField(path)
		}
		if desc {
			path = "-" + path
		}
		out[i] = path
	}
	return out
}

// withTieBreaker makes the order total: run ids are unique.
func withTieBreaker(sortBy []string) []string {
	for _, s := range sortBy {
		switch strings.TrimPrefix(s, "-") {
		case "run_id", "_id":
			return sortBy
		}
	}
	return append(slices.Clip(sortBy), "run_id")
}

func (ix *Index) waitFor(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return nil
	}
	if err := ix.WaitForSeq(ctx, seq); err != nil {
		return &APIError{Code: searchapi.CodeTimeout, Message: fmt.Sprintf("the index has applied history up to %d, not yet %d (wait_for_seq)", ix.AppliedSeq(), seq)}
	}
	return nil
}

// searchWindows finds a page sorted on a number or time field that every
// document has without sorting every match: it searches (q AND field in
// window) for windows of the field's values from the cursor on (downwards
// when desc), each beyond the last, until the page is full. The first
// window is sized from the field's bounds and the matches (counted, or
// estimated when counting stopped: count.go) to hold about two pages,
// later ones from the density met so far. Pages are the same as a plain
// sorted search's: a value's ties all fall in one window,
// ordered by the tie-breaker.
func (ix *Index) searchWindows(ctx context.Context, q bq.Query, sortBy []string, after []string, size int,
	field string, desc bool, matches float64) ([]hit, error) {
	lo, hi, ok := ix.bounds.get(field)
	if !ok || matches == 0 {
		return ix.topHits(ctx, q, sortBy, after, size)
	}
	// edge is where the next window starts (inclusive while the cursor's
	// ties may still be there), towards the end the sort walks to.
	edge, edgeIncl := hi, true
	if !desc {
		edge = lo
	}
	if after != nil {
		v, ok := sortValue(after[0])
		if !ok {
			return ix.topHits(ctx, q, sortBy, after, size)
		}
		edge = v
	}
	span := float64(hi) - float64(lo)
	width := max(span*float64(2*size)/matches, 1)
	var hits []hit
	for first := true; ; first = false {
		var from, to float64 // the window in the field's sortable int64 space
		last := false
		if desc {
			to, from = float64(edge), float64(edge)-width
			last = from <= float64(lo)
		} else {
			from, to = float64(edge), float64(edge)+width
			last = to >= float64(hi)
		}
		wq := asFilter(bq.NewConjunctionQuery([]bq.Query{q, ix.windowQuery(field, desc, edge, edgeIncl, from, to, last)}))
		var cursor []string
		if first {
			cursor = after
		}
		windowProbes.Add(1)
		got, err := ix.topHits(ctx, wq, sortBy, cursor, size-len(hits))
		if err != nil {
			return nil, err
		}
		hits = append(hits, got...)
		if len(hits) >= size || last {
			return hits, nil
		}
		// The next window starts where this one ended: below its lowest
		// value (desc), or at its excluded upper end (asc).
		if desc {
			edge, edgeIncl = int64(from), false
		} else {
			edge, edgeIncl = int64(to), true
		}
		need := float64(size - len(hits))
		if n := len(got); n > 0 {
			width = max(width*need/float64(n)*1.5, width*2)
		} else {
			width *= 8
		}
	}
}

// windowQuery matches field values in the window: from the edge (its own
// value included or not) to the window's far end; the last window is open
// at the far end.
func (ix *Index) windowQuery(field string, desc bool, edge int64, edgeIncl bool, from, to float64, last bool) bq.Query {
	var lo, hi *int64
	if desc {
		e := edge
		if !edgeIncl {
			e = dec(e)
		}
		hi = &e
		if !last {
			f := int64(from)
			lo = &f
		}
	} else {
		e := edge
		if !edgeIncl {
			e = inc(e)
		}
		lo = &e
		if !last {
			t := dec(int64(to)) // the far end is the next window's edge
			hi = &t
		}
	}
	return ix.rangeFor(field, lo, hi)
}

// sortValue decodes a number or time sort value (an exact term,
// rangeindex.go) into the field's int64.
func sortValue(v string) (int64, bool) {
	u, ok := parseExactTerm(v)
	return fromSortable(u), ok
}

// Cursors are the sort values of a page's last hit, hex-encoded: numbers
// and times sort by binary terms that JSON strings cannot carry.
func encodeCursor(sortVals []string) []string {
	out := make([]string, len(sortVals))
	for i, v := range sortVals {
		out[i] = hex.EncodeToString([]byte(v))
	}
	return out
}

func decodeCursor(after []string, n int) ([]string, error) {
	if len(after) == 0 {
		return nil, nil
	}
	if len(after) != n {
		return nil, badRequest("after: the cursor has %d values, the sort %d (pass the Next of a search with the same query and sort)", len(after), n)
	}
	out := make([]string, n)
	for i, v := range after {
		b, err := hex.DecodeString(v)
		if err != nil {
			return nil, badRequest("after: malformed cursor value %q (pass the Next of the previous page)", v)
		}
		out[i] = string(b)
	}
	return out, nil
}

func hitDoc(h hit) (Doc, error) {
	var d Doc
	if err := json.Unmarshal(h.doc, &d); err != nil {
		return d, fmt.Errorf("stored summary: %w", err)
	}
	return d, nil
}
