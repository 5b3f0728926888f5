package visibility

import (
	"context"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	bq "github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/foremanhq/foreman/visibility/internal/scorchsnap"
)

// Filters as bitmaps. Most searches are filters: terms, ranges (a few
// hundred bucket terms each, rangeindex.go), and their conjunctions,
// disjunctions and negations, searched without scores. bleve opens a
// reader of each term in every segment (a dictionary lookup per term per
// segment, nearly all misses for a range, whose buckets few segments hold)
// and counts a conjunction by visiting every match. Here such a query is
// evaluated segment by segment into a bitmap of the live documents it
// matches: a range walks each segment's dictionary over its term spans,
// meeting only the terms the segment has; conjunctions and disjunctions
// are bitmap operations. The result knows its count and is searched by
// walking the bitmaps. Queries with anything else (phrases, patterns,
// scores) are left to bleve. What this reads of scorch's segments is
// behind package scorchsnap.

// filterQuery is a query evaluated as bitmaps (when it can be, see
// evaluable) when searched without scores.
type filterQuery struct{ q bq.Query }

// asFilter wraps q when it can be evaluated as bitmaps, unless bleve
// counts and walks it as cheaply (one term, all or nothing; a range is
// a bitmap search by itself).
func asFilter(q bq.Query) bq.Query {
	switch q.(type) {
	case *filterQuery, *bq.TermQuery, *bq.BoolFieldQuery, *bq.MatchAllQuery, *bq.MatchNoneQuery, *rangeQuery:
		return q
	}
	if !evaluable(q) {
		return q
	}
	return &filterQuery{q}
}

func (f *filterQuery) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, opts search.SearcherOptions) (search.Searcher, error) {
	snap, ok := scorchsnap.Of(r)
	if !ok || opts.Score != "none" || opts.Explain || opts.IncludeTermVectors {
		return f.q.Searcher(ctx, r, m, opts)
	}
	return newBitmapSearcher(snap, f.q)
}

// evaluable reports whether q is made only of what segmentEval evaluates.
func evaluable(q bq.Query) bool {
	switch q := q.(type) {
	case *bq.TermQuery, *bq.BoolFieldQuery, *bq.MatchAllQuery, *bq.MatchNoneQuery, *rangeQuery:
		return true
	case *filterQuery:
		return true
	case *bq.ConjunctionQuery:
		return len(q.Conjuncts) > 0 && allEvaluable(q.Conjuncts)
	case *bq.DisjunctionQuery:
		return len(q.Disjuncts) > 0 && q.Min <= 1 && allEvaluable(q.Disjuncts)
	case *bq.BooleanQuery:
		return q.Must != nil && q.Should == nil && q.Filter == nil && evaluable(q.Must) && (q.MustNot == nil || evaluable(q.MustNot))
	}
	return false
}

func allEvaluable(qs []bq.Query) bool {
	for _, q := range qs {
		if !evaluable(q) {
			return false
		}
	}
	return true
}

// segmentEval evaluates queries in one segment of a snapshot.
type segmentEval struct {
	seg *scorchsnap.Segment
}

// eval returns the live documents of the segment q matches, in a bitmap
// the caller owns.
func (e *segmentEval) eval(q bq.Query) (*roaring.Bitmap, error) {
	switch q := q.(type) {
	case *filterQuery:
		return e.eval(q.q)
	case *bq.TermQuery:
		return e.seg.Terms(q.FieldVal, q.Term)
	case *bq.BoolFieldQuery:
		term := "F"
		if q.Bool {
			term = "T"
		}
		return e.seg.Terms(q.FieldVal, term)
	case *bq.MatchAllQuery:
		return e.seg.Live(), nil
	case *bq.MatchNoneQuery:
		return roaring.New(), nil
	case *rangeQuery:
		return e.rangeDocs(q)
	case *bq.ConjunctionQuery:
		var acc *roaring.Bitmap
		for _, c := range q.Conjuncts {
			bm, err := e.eval(c)
			if err != nil {
				return nil, err
			}
			if acc == nil {
				acc = bm
			} else {
				acc.And(bm)
			}
			if acc.IsEmpty() {
				break
			}
		}
		return acc, nil
	case *bq.DisjunctionQuery:
		bms := make([]*roaring.Bitmap, 0, len(q.Disjuncts))
		for _, d := range q.Disjuncts {
			bm, err := e.eval(d)
			if err != nil {
				return nil, err
			}
			bms = append(bms, bm)
		}
		return roaring.FastOr(bms...), nil
	case *bq.BooleanQuery:
		acc, err := e.eval(q.Must)
		if err != nil || q.MustNot == nil || acc.IsEmpty() {
			return acc, err
		}
		not, err := e.eval(q.MustNot)
		if err != nil {
			return nil, err
		}
		acc.AndNot(not)
		return acc, nil
	}
	return nil, fmt.Errorf("filter: cannot evaluate a %T", q)
}

// rangeDocs returns the live documents holding any term of the range's
// spans.
func (e *segmentEval) rangeDocs(q *rangeQuery) (*roaring.Bitmap, error) {
	if q.empty {
		return roaring.New(), nil
	}
	return e.seg.TermSpans(q.termRanges())
}

// segmentMatches are one segment's matches: local document numbers, and
// the segment's place in the snapshot's numbering.
type segmentMatches struct {
	base, end uint64
	docs      *roaring.Bitmap
}

// bitmapSearcher walks a query's matches, segment by segment.
type bitmapSearcher struct {
	segs  []segmentMatches
	count uint64
	cur   int // segment being walked
	it    roaring.IntPeekable
}

func newBitmapSearcher(snap scorchsnap.Snapshot, q bq.Query) (*bitmapSearcher, error) {
	s := &bitmapSearcher{}
	for _, seg := range snap.Segments() {
		e := &segmentEval{seg: seg}
		docs, err := e.eval(q)
		if err != nil {
			return nil, err
		}
		if c := docs.GetCardinality(); c > 0 {
			s.segs = append(s.segs, segmentMatches{base: seg.Base, end: seg.End, docs: docs})
			s.count += c
		}
	}
	if len(s.segs) > 0 {
		s.it = s.segs[0].docs.Iterator()
	}
	return s, nil
}

func (s *bitmapSearcher) Next(ctx *search.SearchContext) (*search.DocumentMatch, error) {
	for s.cur < len(s.segs) {
		if s.it.HasNext() {
			dm := ctx.DocumentMatchPool.Get()
			dm.IndexInternalID = index.NewIndexInternalID(dm.IndexInternalID, s.segs[s.cur].base+uint64(s.it.Next()))
			dm.Score = 1
			return dm, nil
		}
		s.cur++
		if s.cur < len(s.segs) {
			s.it = s.segs[s.cur].docs.Iterator()
		}
	}
	return nil, nil
}

// Advance returns the first match at or after id.
func (s *bitmapSearcher) Advance(ctx *search.SearchContext, id index.IndexInternalID) (*search.DocumentMatch, error) {
	target := id.Value()
	for s.cur < len(s.segs) && s.segs[s.cur].end <= target {
		s.cur++
		if s.cur < len(s.segs) {
			s.it = s.segs[s.cur].docs.Iterator()
		}
	}
	if s.cur < len(s.segs) && target > s.segs[s.cur].base {
		s.it.AdvanceIfNeeded(uint32(target - s.segs[s.cur].base))
	}
	return s.Next(ctx)
}

func (s *bitmapSearcher) Count() uint64              { return s.count }
func (s *bitmapSearcher) Close() error               { return nil }
func (s *bitmapSearcher) Weight() float64            { return 1 }
func (s *bitmapSearcher) SetQueryNorm(float64)       {}
func (s *bitmapSearcher) Min() int                   { return 0 }
func (s *bitmapSearcher) Size() int                  { return 64 + 48*len(s.segs) }
func (s *bitmapSearcher) DocumentMatchPoolSize() int { return 1 }
