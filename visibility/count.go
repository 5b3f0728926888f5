package visibility

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	bq "github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/foremanhq/foreman/visibility/internal/scorchsnap"
)

// Counting. bleve's collector visits every hit to count it, with a
// document match, a sort key and a heap step each. Counting here skips all
// that: a single term (and match all) is counted from its postings list
// (deleted documents excluded), a range from its bitmaps (rangesearch.go);
// any other query by stepping its searcher, without scores. Scorch folds
// terms, prefixes and their conjunctions and disjunctions into one bitmap
// for such a searcher (the "unadorned" optimization), so that stepping is
// a bitmap walk.

// maxGroupValues is how many distinct values a grouped count enumerates
// one by one; fields with more are grouped by bleve's terms facet.
const maxGroupValues = 256

// withReaders runs fn on a reader of every shard, concurrently, and
// returns their errors.
func (ix *Index) withReaders(fn func(k int, r index.IndexReader) error) error {
	return ix.eachShard(func(k int, s *shard) error {
		r, err := s.reader()
		if err != nil {
			return err
		}
		defer r.Close()
		return fn(k, r)
	})
}

// countIn counts q's matches in one shard: exactly when the searcher
// knows its count or is one folded bitmap, else by visiting hits, stopping
// after limit (0: none) with exact false.
func (ix *Index) countIn(ctx context.Context, r index.IndexReader, q bq.Query, limit uint64) (uint64, bool, error) {
	n, exact, _, err := ix.estimateIn(ctx, r, q, limit)
	return n, exact, err
}

// estimateIn is countIn that also estimates the matches when it stops
// counting at limit: matches are spread over the shard's documents about
// evenly, and those visited were the ones up to the last found.
func (ix *Index) estimateIn(ctx context.Context, r index.IndexReader, q bq.Query, limit uint64) (n uint64, exact bool, est float64, err error) {
	s, err := q.Searcher(ctx, r, ix.mapping, search.SearcherOptions{Score: "none"})
	if err != nil {
		return 0, false, 0, err
	}
	defer s.Close()
	switch s.(type) {
	case *bitmapSearcher, *searcher.MatchNoneSearcher:
		return s.Count(), true, float64(s.Count()), nil
	}
	switch q.(type) {
	case *bq.TermQuery, *bq.MatchAllQuery:
		return s.Count(), true, float64(s.Count()), nil
	}
	if _, folded := s.(*searcher.TermSearcher); folded {
		limit = 0 // one bitmap: walking it all is cheap
	}
	sctx := &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(s.DocumentMatchPoolSize(), 0), IndexReader: r}
	for {
		if n%1024 == 0 && ctx.Err() != nil {
			return n, false, float64(n), ctx.Err()
		}
		dm, err := s.Next(sctx)
		if err != nil {
			return n, false, float64(n), err
		}
		if dm == nil {
			return n, true, float64(n), nil
		}
		n++
		if limit > 0 && n >= limit {
			est = float64(n)
			if snap, ok := scorchsnap.Of(r); ok {
				if num, ok := scorchsnap.DocNum(dm.IndexInternalID); ok {
					est = max(est, float64(n)*float64(snap.Numbered())/float64(num+1))
				}
			}
			return n, false, est, nil
		}
		sctx.DocumentMatchPool.Put(dm)
	}
}

// count counts q's matches over every shard; a limit (0: none) is shared
// out among the shards. est estimates the matches when not exact.
func (ix *Index) count(ctx context.Context, q bq.Query, limit uint64) (total uint64, exact bool, est float64, err error) {
	if limit > 0 {
		limit = (limit + uint64(len(ix.shards)) - 1) / uint64(len(ix.shards))
	}
	ns := make([]uint64, len(ix.shards))
	ex := make([]bool, len(ix.shards))
	es := make([]float64, len(ix.shards))
	err = ix.withReaders(func(k int, r index.IndexReader) error {
		var err error
		ns[k], ex[k], es[k], err = ix.estimateIn(ctx, r, q, limit)
		return err
	})
	exact = true
	for k := range ns {
		total += ns[k]
		exact = exact && ex[k]
		est += es[k]
	}
	return total, exact, est, err
}

// foldable reports whether q is evaluated as bitmaps (bitmaps.go) or
// scorch folds it into one bitmap in every shard (see above): then
// counting (q AND term) per group value is cheap.
func (ix *Index) foldable(ctx context.Context, q bq.Query) (bool, error) {
	if evaluable(q) {
		return true, nil
	}
	ok := make([]bool, len(ix.shards))
	err := ix.withReaders(func(k int, r index.IndexReader) error {
		s, err := q.Searcher(ctx, r, ix.mapping, search.SearcherOptions{Score: "none"})
		if err != nil {
			return err
		}
		defer s.Close()
		switch s.(type) {
		case *searcher.TermSearcher, *searcher.MatchAllSearcher, *searcher.MatchNoneSearcher:
			ok[k] = true
		}
		return nil
	})
	return !slices.Contains(ok, false), err
}

// fieldValues lists the distinct values of a keyword field in the index
// (values of deleted documents included), at most max+1.
func (ix *Index) fieldValues(field string, max int) ([]string, error) {
	seen := map[string]bool{}
	var mu sync.Mutex
	err := ix.withReaders(func(k int, r index.IndexReader) error {
		d, err := r.FieldDict(field)
		if err != nil {
			return err
		}
		defer d.Close()
		for {
			e, err := d.Next()
			if err != nil || e == nil {
				return err
			}
			mu.Lock()
			seen[e.Term] = true
			full := len(seen) > max
			mu.Unlock()
			if full {
				return nil
			}
		}
	})
	vals := make([]string, 0, len(seen))
	for v := range seen {
		vals = append(vals, v)
	}
	slices.Sort(vals)
	return vals, err
}

// groups counts q's matches by the values of a keyword field, largest
// first, at most limit groups. With few distinct values and a query the
// index counts directly, each group is the exact count of (q AND
// field:value); otherwise bleve's terms facet visits every hit.
func (ix *Index) groups(ctx context.Context, q bq.Query, field string, limit int) ([]Group, error) {
	vals, err := ix.fieldValues(field, maxGroupValues)
	if err != nil {
		return nil, err
	}
	_, matchAll := q.(*bq.MatchAllQuery)
	direct := len(vals) <= maxGroupValues
	if direct && !matchAll {
		if direct, err = ix.foldable(ctx, q); err != nil {
			return nil, err
		}
	}
	if !direct {
		return ix.facet(ctx, q, field, limit)
	}
	counts := make([][]uint64, len(ix.shards))
	err = ix.withReaders(func(k int, r index.IndexReader) error {
		counts[k] = make([]uint64, len(vals))
		for i, v := range vals {
			term := bq.NewTermQuery(v)
			term.SetField(field)
			var gq bq.Query = term
			if !matchAll {
				gq = asFilter(bq.NewConjunctionQuery([]bq.Query{q, term}))
			}
			n, _, err := ix.countIn(ctx, r, gq, 0)
			if err != nil {
				return err
			}
			counts[k][i] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Group
	for i, v := range vals {
		var n uint64
		for k := range counts {
			n += counts[k][i]
		}
		if n > 0 {
			out = append(out, Group{Value: v, Count: n})
		}
	}
	sortGroups(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// facet groups by bleve's terms facet (every hit visited).
func (ix *Index) facet(ctx context.Context, q bq.Query, field string, limit int) ([]Group, error) {
	req := bleve.NewSearchRequestOptions(q, 0, 0, false)
	req.Score = "none"
	req.AddFacet(field, bleve.NewFacetRequest(field, limit))
	res, err := ix.search.SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}
	fr := res.Facets[field]
	if fr == nil {
		return nil, fmt.Errorf("no facet result for %s", field)
	}
	var out []Group
	for _, t := range fr.Terms.Terms() {
		out = append(out, Group{Value: t.Term, Count: uint64(t.Count)})
	}
	sortGroups(out)
	return out, nil
}

func sortGroups(gs []Group) {
	slices.SortFunc(gs, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
	})
}
