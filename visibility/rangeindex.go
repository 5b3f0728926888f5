package visibility

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search"
	bq "github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/foremanhq/foreman/visibility/fields"
	"github.com/foremanhq/foreman/visibility/internal/scorchsnap"
)

// Numbers and times have an index layout of their own.
//
// bleve indexes a number or a time as 16 prefix-coded terms (one per 4 bits
// of precision) and keeps all 16 in its doc values. Times are nearly unique
// per run, so about half of those terms are new dictionary entries in every
// segment, and with four time fields and half a dozen numbers per run they
// were most of the indexing cost (measured: 2,300 runs/s with them, 4,300
// without). Here a value v, taken as an order-preserving uint64 u (unix
// nanoseconds for times, numeric.Float64ToInt64 for numbers, sign bit
// flipped), is indexed as
//
//   - three bucket terms in the field itself: u>>48, u>>40, u>>32, which
//     runs share (for times: 3.3 days, 18 minutes, 4.3 s wide), and
//   - one exact term in the companion field _v.<field>, the only one with
//     doc values: what sorting and search-after cursors read.
//
// A range [lo, hi] is the union of the widest buckets inside it, narrower
// buckets at its edges, and the exact values left at the very edges, each
// level read from the term dictionary (only buckets that exist). Searched
// without scores, scorch folds the union into one bitmap, so ranges count
// and intersect as cheaply as terms. Queries reach this layout through
// rewriteRanges (bleve's numeric and date range queries become
// rangeQuery) and sorts through sortPath.
//
// Fields with few distinct values (exactOnly) have no buckets: a range
// reads the exact values in it from the dictionary, which is as quick, and
// three terms fewer per value are a tenth of the terms of a run's document.

// rangeShifts are the bucket widths, widest first, as bit shifts of u.
var rangeShifts = [...]uint{48, 40, 32}

// exactOnly are the number fields indexed by exact value alone (the field
// table's ExactOnly).
var exactOnly = fields.NameSet(func(s *fields.Spec) bool { return s.ExactOnly })

// exactPrefix names the companion field holding a value's exact term.
const exactPrefix = "_v."

func exactField(path string) string { return exactPrefix + path }

// sortableNumber maps a number to u.
func sortableNumber(f float64) uint64  { return uint64(numeric.Float64ToInt64(f)) ^ (1 << 63) }
func fromSortable(u uint64) int64      { return int64(u ^ (1 << 63)) }
func sortableFromInt64(v int64) uint64 { return uint64(v) ^ (1 << 63) }
func exactTerm(u uint64) string        { return fmt.Sprintf("%016x", u) }

// bucketTerm is a bucket at a level: the level's letter and the bucket
// number in as few big-endian bytes as it has (2, 3 and 4): short terms
// are quick to look up in each segment's dictionary, and ranges look up
// hundreds.
func bucketTerm(level int, b uint64) string {
	return string(appendBucket(nil, level, b))
}

func appendBucket(dst []byte, level int, b uint64) []byte {
	dst = append(dst, byte('a'+level))
	for i := bucketBytes(level) - 1; i >= 0; i-- {
		dst = append(dst, byte(b>>(8*i)))
	}
	return dst
}

func bucketBytes(level int) int { return (64 - int(rangeShifts[level])) / 8 }

// parseExactTerm reads an exact term (a sort value) back.
func parseExactTerm(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	u, err := strconv.ParseUint(s, 16, 64)
	return u, err == nil
}

// valueTerms is what a value is indexed as: the bucket terms (one field
// value, split by bucketAnalyzer) and the exact term (hex: it is the sort
// value, and bleve sorts missing values as the lowest and highest text).
func valueTerms(u uint64) (buckets, exact string) {
	b := make([]byte, 0, 16)
	for i, s := range rangeShifts {
		b = appendBucket(b, i, u>>s)
	}
	return string(b), string(hex16(nil, u))
}

func hex16(b []byte, v uint64) []byte {
	var buf [8]byte
	for i := range buf {
		buf[i] = byte(v >> (56 - 8*i))
	}
	return hex.AppendEncode(b, buf[:])
}

// bucketAnalyzer splits the bucket terms of a number or time (valueTerms)
// apart, by their lengths.
type bucketAnalyzer struct{}

func (bucketAnalyzer) Analyze(input []byte) analysis.TokenStream {
	ts := make(analysis.TokenStream, 0, len(rangeShifts))
	start := 0
	for level := range rangeShifts {
		end := start + 1 + bucketBytes(level)
		if end > len(input) {
			break
		}
		ts = append(ts, &analysis.Token{Term: input[start:end], Start: start, End: end, Position: level + 1, Type: analysis.AlphaNumeric})
		start = end
	}
	return ts
}

// span is a run of buckets at one level (or, at level len(rangeShifts),
// of exact values), inclusive.
type span struct {
	level  int
	lo, hi uint64 // bucket numbers at that level (exact values at the last)
}

// decompose covers [lo, hi] (inclusive, in u) with the widest buckets
// fully inside it and narrower ones at the edges.
func decompose(lo, hi uint64) []span {
	var out []span
	var walk func(lo, hi uint64, level int)
	walk = func(lo, hi uint64, level int) {
		if lo > hi {
			return
		}
		if level == len(rangeShifts) {
			out = append(out, span{level, lo, hi})
			return
		}
		s := rangeShifts[level]
		mask := uint64(1)<<s - 1
		// The whole buckets inside [lo, hi]: from the first starting at or
		// after lo to the last ending at or before hi.
		first, firstOK := lo>>s, true
		if lo&mask != 0 {
			first++
			firstOK = first <= math.MaxUint64>>s
		}
		last, lastOK := hi>>s, true
		if hi&mask != mask {
			lastOK = last > 0
			last--
		}
		if !firstOK || !lastOK || first > last {
			walk(lo, hi, level+1)
			return
		}
		out = append(out, span{level, first, last})
		if start := first << s; start > lo {
			walk(lo, start-1, level+1)
		}
		if end := last<<s | mask; end < hi {
			walk(end+1, hi, level+1)
		}
	}
	walk(lo, hi, 0)
	return out
}

// rangeQuery matches the runs whose value in field is in [lo, hi] (u,
// inclusive). It is only built by rewriteRanges and windowQuery.
type rangeQuery struct {
	field  string
	lo, hi uint64
	empty  bool // nothing can match (an empty range, or a field never indexed)
}

// Searcher evaluates the range as bitmaps (bitmaps.go), also when asked
// for scores: a range scores nothing.
func (q *rangeQuery) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, opts search.SearcherOptions) (search.Searcher, error) {
	snap, ok := scorchsnap.Of(r)
	if !ok {
		return nil, fmt.Errorf("range search: an index reader of type %T, want a scorch snapshot", r)
	}
	return newBitmapSearcher(snap, q)
}

// termRanges are the term ranges the range is the union of: for each span,
// its bucket terms in the field, or its exact values in the companion.
func (q *rangeQuery) termRanges() []scorchsnap.TermSpan {
	spans := []span{{len(rangeShifts), q.lo, q.hi}}
	if !exactOnly[q.field] {
		spans = decompose(q.lo, q.hi)
	}
	ranges := make([]scorchsnap.TermSpan, len(spans))
	for i, sp := range spans {
		ranges[i] = scorchsnap.TermSpan{Field: exactField(q.field), From: exactTerm(sp.lo), To: exactTerm(sp.hi)}
		if sp.level < len(rangeShifts) {
			ranges[i] = scorchsnap.TermSpan{Field: q.field, From: bucketTerm(sp.level, sp.lo), To: bucketTerm(sp.level, sp.hi)}
		}
	}
	return ranges
}

// rangeFor builds the query for [lo, hi] (in the field's int64 domain,
// nil for an open end), clamped to the values the index has seen.
func (ix *Index) rangeFor(field string, lo, hi *int64) bq.Query {
	blo, bhi, ok := ix.bounds.get(field)
	q := &rangeQuery{field: field, lo: sortableFromInt64(blo), hi: sortableFromInt64(bhi), empty: !ok}
	if lo != nil && sortableFromInt64(*lo) > q.lo {
		q.lo = sortableFromInt64(*lo)
	}
	if hi != nil && sortableFromInt64(*hi) < q.hi {
		q.hi = sortableFromInt64(*hi)
	}
	q.empty = q.empty || q.lo > q.hi
	return q
}

// rewriteRanges replaces bleve's numeric and date range queries in q (as
// the query package builds them) by rangeQuery, with bleve's semantics:
// an open end when unset, a start included and an end excluded unless
// said otherwise.
func (ix *Index) rewriteRanges(q bq.Query) bq.Query {
	switch q := q.(type) {
	case *bq.ConjunctionQuery:
		for i := range q.Conjuncts {
			q.Conjuncts[i] = ix.rewriteRanges(q.Conjuncts[i])
		}
	case *bq.DisjunctionQuery:
		for i := range q.Disjuncts {
			q.Disjuncts[i] = ix.rewriteRanges(q.Disjuncts[i])
		}
	case *bq.BooleanQuery:
		for _, p := range []*bq.Query{&q.Must, &q.Should, &q.MustNot, &q.Filter} {
			if *p != nil {
				*p = ix.rewriteRanges(*p)
			}
		}
	case *bq.NumericRangeQuery:
		var lo, hi *int64
		if q.Min != nil && !math.IsInf(*q.Min, -1) {
			v := numeric.Float64ToInt64(*q.Min)
			if q.InclusiveMin != nil && !*q.InclusiveMin {
				v = inc(v)
			}
			lo = &v
		}
		if q.Max != nil && !math.IsInf(*q.Max, 1) {
			v := numeric.Float64ToInt64(*q.Max)
			if q.InclusiveMax == nil || !*q.InclusiveMax {
				v = dec(v)
			}
			hi = &v
		}
		return ix.rangeFor(q.FieldVal, lo, hi)
	case *bq.DateRangeQuery:
		var lo, hi *int64
		if !q.Start.IsZero() {
			v := clampedNanos(q.Start.Time)
			if q.InclusiveStart != nil && !*q.InclusiveStart {
				v = inc(v)
			}
			lo = &v
		}
		if !q.End.IsZero() {
			v := clampedNanos(q.End.Time)
			if q.InclusiveEnd == nil || !*q.InclusiveEnd {
				v = dec(v)
			}
			hi = &v
		}
		return ix.rangeFor(q.FieldVal, lo, hi)
	}
	return q
}

func inc(v int64) int64 {
	if v == math.MaxInt64 {
		return v
	}
	return v + 1
}

func dec(v int64) int64 {
	if v == math.MinInt64 {
		return v
	}
	return v - 1
}

// clampedNanos is t in unix nanoseconds, clamped to what int64 holds
// (times before 1678 or after 2261).
func clampedNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
