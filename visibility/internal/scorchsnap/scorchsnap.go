// Package scorchsnap is the one place that reaches below bleve's public
// API into scorch, the index engine production uses: its snapshots and
// segments, the numbering of documents across segments, zap's postings
// and dictionary iterators, and scorch's statistics. The index needs them
// for what bleve does not offer at its speed: filters evaluated as
// bitmaps segment by segment (visibility/bitmaps.go), stored summaries
// read by document number (collect.go), match estimates (count.go),
// knowing when segments merge, and pacing merges so that they do not take
// the CPU from the engine in bursts (pace.go).
//
// Written against bleve v2.6.1 (scorch_segment_api v2.4.10, zapx v17,
// roaring v2.14.5); none of this is covered by bleve's compatibility
// promise. On a bleve upgrade, run this package's tests and the index's
// (TestFiltersMatchBleve compares the bitmaps with bleve's own searches);
// nothing else in visibility imports scorch (TestOnlyOwnerImportsScorch).
package scorchsnap

import (
	"bytes"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// Snapshot is a point-in-time view of one scorch index. Its documents are
// numbered segment after segment: a document's number (the 8-byte
// IndexInternalID of a match) is the count of the segments before its own
// plus its number in its segment, deleted documents included.
type Snapshot struct{ s *scorch.IndexSnapshot }

// Of returns the scorch snapshot r is, if it is one (bleve hands a
// query's Searcher the reader of the index being searched).
func Of(r index.IndexReader) (Snapshot, bool) {
	s, ok := r.(*scorch.IndexSnapshot)
	return Snapshot{s}, ok
}

// Segments returns the snapshot's segments in numbering order, each ready
// to evaluate terms (a segment caches the dictionaries it opens: use it
// for one query).
func (s Snapshot) Segments() []*Segment {
	out := make([]*Segment, 0, len(s.s.Segments()))
	var base uint64
	for _, ss := range s.s.Segments() {
		n := ss.Segment().Count()
		out = append(out, &Segment{ss: ss, Base: base, End: base + n})
		base += n
	}
	return out
}

// Numbered is how many document numbers the snapshot uses (deleted
// documents included): what a match's number is out of.
func (s Snapshot) Numbered() uint64 {
	var n uint64
	for _, ss := range s.s.Segments() {
		n += ss.Segment().Count()
	}
	return n
}

// DocNum is the document number of a match's internal id, if it is one.
func DocNum(id index.IndexInternalID) (uint64, bool) {
	if len(id) != 8 {
		return 0, false
	}
	return id.Value(), true
}

// StoredField returns a copy of the value of one stored field of the
// document with internal id id (nil when it has no such field), reading
// the segment that holds it rather than looking the document up by its
// external id. ok is false when id is not a document number of the
// snapshot.
func (s Snapshot) StoredField(id index.IndexInternalID, field string) (v []byte, ok bool, err error) {
	num, ok := DocNum(id)
	if !ok {
		return nil, false, nil
	}
	var base uint64
	for _, ss := range s.s.Segments() {
		n := ss.Segment().Count()
		if num >= base+n {
			base += n
			continue
		}
		err := ss.VisitDocument(num-base, func(name string, _ byte, val []byte, _ []uint64) bool {
			if name == field {
				v = bytes.Clone(val)
				return false
			}
			return true
		})
		return v, true, err
	}
	return nil, false, nil
}

// Segment is one segment of a snapshot: its documents are numbered Base
// up to End in the snapshot.
type Segment struct {
	ss        *scorch.SegmentSnapshot
	Base, End uint64
	dicts     map[string]segment.TermDictionary
}

// Live returns the segment's live documents (local numbers), a bitmap the
// caller owns.
func (g *Segment) Live() *roaring.Bitmap { return g.ss.DocNumbersLive() }

func (g *Segment) dict(field string) (segment.TermDictionary, error) {
	if d, ok := g.dicts[field]; ok {
		return d, nil
	}
	d, err := g.ss.Segment().Dictionary(field)
	if err != nil {
		return nil, err
	}
	if g.dicts == nil {
		g.dicts = map[string]segment.TermDictionary{}
	}
	g.dicts[field] = d
	return d, nil
}

// Terms returns the live documents holding any of terms in field, in a
// bitmap the caller owns.
func (g *Segment) Terms(field string, terms ...string) (*roaring.Bitmap, error) {
	d, err := g.dict(field)
	if err != nil {
		return nil, err
	}
	acc := postingsAcc{}
	for _, t := range terms {
		if err := acc.add(d, []byte(t), g.ss.Deleted()); err != nil {
			return nil, err
		}
	}
	return acc.bitmap(), nil
}

// TermSpan is the terms of a field from From to To, both included.
type TermSpan struct {
	Field, From, To string
}

// TermSpans returns the live documents holding any term of the spans, in
// a bitmap the caller owns. It walks each dictionary over the span, so it
// meets only the terms the segment has.
func (g *Segment) TermSpans(spans []TermSpan) (*roaring.Bitmap, error) {
	acc := postingsAcc{}
	for _, sp := range spans {
		d, err := g.dict(sp.Field)
		if err != nil {
			return nil, err
		}
		end := append([]byte(sp.To), 0) // the first term after To
		var it segment.DictionaryIterator
		if oc, ok := d.(omitCountIterator); ok {
			it = oc.AutomatonIteratorOmitCount(nil, []byte(sp.From), end)
		} else {
			it = d.AutomatonIterator(nil, []byte(sp.From), end)
		}
		for {
			entry, err := it.Next()
			if err != nil {
				return nil, err
			}
			if entry == nil {
				break
			}
			if err := acc.add(d, []byte(entry.Term), g.ss.Deleted()); err != nil {
				return nil, err
			}
		}
	}
	return acc.bitmap(), nil
}

// omitCountIterator is zap's dictionary iterator that does not read each
// term's postings to count them.
type omitCountIterator interface {
	AutomatonIteratorOmitCount(a segment.Automaton, startKeyInclusive, endKeyExclusive []byte) segment.DictionaryIterator
}

// postingsAcc gathers postings lists to OR: bitmaps (shared with the
// segment, not to be changed) and single documents.
type postingsAcc struct {
	bms  []*roaring.Bitmap
	ones []uint32
}

func (a *postingsAcc) add(d segment.TermDictionary, term []byte, deleted *roaring.Bitmap) error {
	pl, err := d.PostingsList(term, deleted, nil)
	if err != nil {
		return err
	}
	pi := pl.Iterator(false, false, false, nil)
	if opt, ok := pi.(segment.OptimizablePostingsIterator); ok {
		if num, one := opt.DocNum1Hit(); one {
			a.ones = append(a.ones, uint32(num))
		} else if bm := opt.ActualBitmap(); bm != nil {
			a.bms = append(a.bms, bm)
		}
		return nil
	}
	for {
		p, err := pi.Next()
		if err != nil || p == nil {
			return err
		}
		a.ones = append(a.ones, uint32(p.Number()))
	}
}

func (a *postingsAcc) bitmap() *roaring.Bitmap {
	var bm *roaring.Bitmap
	switch len(a.bms) {
	case 0:
		bm = roaring.New()
	case 1:
		bm = a.bms[0].Clone()
	default:
		bm = roaring.FastOr(a.bms...)
	}
	bm.AddMany(a.ones)
	return bm
}

// Merging tells whether a scorch index is merging segments in the
// background (its file merges begun and ended differ).
func Merging(idx bleve.Index) bool {
	m, _ := idx.StatsMap()["index"].(map[string]any)
	beg, _ := m["TotFileMergeZapBeg"].(uint64)
	end, _ := m["TotFileMergeZapEnd"].(uint64)
	return beg != end
}
