package visibility

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/fields"
	"github.com/foremanhq/foreman/visibility/query"
)

// docBuilder turns a run's facts into a bleve document directly, with the
// options the mapping names for each field and analyzers that give the
// tokens the mapping's do (text: asciiAnalyzer). Building by hand spares
// the mapping's reflection and lets custom attributes be typed by the
// registry rather than by their Go values.
type docBuilder struct {
	keyword, text analysis.Analyzer
}

func newDocBuilder(m mapping.IndexMapping) (*docBuilder, error) {
	kw, std := m.AnalyzerNamed(keyword.Name), m.AnalyzerNamed(standard.Name)
	if kw == nil || std == nil {
		return nil, fmt.Errorf("index mapping lacks the %s or %s analyzer", keyword.Name, standard.Name)
	}
	txt, err := newASCIIAnalyzer(std)
	if err != nil {
		return nil, err
	}
	return &docBuilder{keyword: kw, text: txt}, nil
}

// skipFunc is told about a custom attribute value that does not fit the
// registered type of its name.
type skipFunc func(name string, got, registered engine.SearchAttributeType)

// build returns the run's document. Every value goes through a fieldWriter,
// which also folds it into the fingerprint stored beside the summary.
func (b *docBuilder) build(f *fields.Facts, reg *attrRegistry, bounds *fieldBounds, skip skipFunc) (*document.Document, error) {
	x := f.X
	w := &fieldWriter{b: b, doc: document.NewDocument(x.RunID), h: fnvOffset, bounds: bounds}
	for i := range fields.Builtin {
		s := &fields.Builtin[i]
		switch {
		case s.Keyword != nil:
			w.keyword(s.Name, s.Keyword(f))
		case s.Keywords != nil:
			w.keyword(s.Name, s.Keywords(f)...)
		case s.Number != nil:
			if v, ok := s.Number(f); ok {
				w.number(s.Name, v, s.ExactOnly)
			}
		case s.Time != nil:
			w.time(s.Name, s.Time(f))
		case s.Text != nil:
			w.text(s.Name, s.Text(f))
		case s.Bool != nil:
			if v, ok := s.Bool(f); ok {
				w.boolean(s.Name, v)
			}
		}
	}

	names := make([]string, 0, len(x.SearchAttributes))
	for name := range x.SearchAttributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := x.SearchAttributes[name]
		t, ok := reg.typeOf(name)
		v, fits := attrValue(a)
		if !ok || t != a.Type || !fits {
			if skip != nil {
				skip(name, a.Type, t)
			}
			continue
		}
		path := query.AttrPath(name)
		switch v := v.(type) {
		case string:
			if t == engine.AttrText {
				w.text(path, clip(v, maxTextBytes))
			} else {
				w.keyword(path, v)
			}
		case float64:
			w.number(path, v, false)
		case bool:
			w.boolean(path, v)
		case time.Time:
			w.time(path, v)
		}
	}

	raw, err := json.Marshal(summary(f))
	if err != nil {
		return nil, fmt.Errorf("encoding the summary of run %s: %w", x.RunID, err)
	}
	w.stored(fieldDoc, raw)
	w.doc.AddField(document.NewTextFieldCustom(fieldFingerprint, nil, []byte(w.fingerprint()), storedOnly, nil))
	return w.doc, nil
}

// fieldWriter adds fields to a document and hashes what it adds.
type fieldWriter struct {
	b   *docBuilder
	doc *document.Document
	h   uint64 // FNV-1a of what was added
	buf [8]byte
	// bounds, when set, learns every number and time value.
	bounds *fieldBounds
}

// sum folds one value into w's fingerprint: path, a zero byte, kind,
// length, value (FNV-1a, as hash/fnv's New64a computes it, without
// converting strings to bytes: through hash.Hash each was an allocation,
// three per field).
func sum[T string | []byte](w *fieldWriter, path string, kind byte, v T) {
	var head [10]byte
	head[1] = kind
	binary.LittleEndian.PutUint64(head[2:], uint64(len(v)))
	w.h = fnvAdd(fnvAdd(fnvAdd(w.h, path), head[:]), v)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd[T string | []byte](h uint64, s T) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func (w *fieldWriter) fingerprint() string { return strconv.FormatUint(w.h, 16) }

// keyword adds exact values; several make a multi-valued field.
func (w *fieldWriter) keyword(path string, vals ...string) {
	multi := len(vals) > 1
	for i, v := range vals {
		if v == "" {
			continue
		}
		v = clip(v, maxKeywordBytes)
		var pos []uint64
		if multi {
			pos = []uint64{uint64(i)}
		}
		sum(w, path, 'k', v)
		w.doc.AddField(document.NewTextFieldCustom(path, pos, []byte(v), keywordOptions, w.b.keyword))
	}
}

func (w *fieldWriter) text(path, v string) {
	if v == "" {
		return
	}
	sum(w, path, 't', v)
	w.doc.AddField(document.NewTextFieldCustom(path, nil, []byte(v), textOptions, w.b.text))
}

// number adds a number; exactOnly leaves out its range buckets
// (fields.Spec.ExactOnly).
func (w *fieldWriter) number(path string, v float64, exactOnly bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	binary.LittleEndian.PutUint64(w.buf[:], math.Float64bits(v))
	sum(w, path, 'n', w.buf[:])
	if w.bounds != nil {
		w.bounds.observe(path, numeric.Float64ToInt64(v))
	}
	w.value(path, sortableNumber(v), exactOnly)
}

func (w *fieldWriter) time(path string, t time.Time) {
	if t.IsZero() {
		return
	}
	sum(w, path, 'd', t.UTC().Format(time.RFC3339Nano))
	if w.bounds != nil {
		w.bounds.observe(path, clampedNanos(t))
	}
	w.value(path, sortableFromInt64(clampedNanos(t)), false)
}

// value adds a number or time as the index lays them out (rangeindex.go).
func (w *fieldWriter) value(path string, u uint64, exactOnly bool) {
	buckets, exact := valueTerms(u)
	if !exactOnly {
		w.doc.AddField(document.NewTextFieldCustom(path, nil, []byte(buckets), bucketOptions, bucketAnalyzer{}))
	}
	w.doc.AddField(document.NewTextFieldCustom(exactField(path), nil, []byte(exact), exactOptions, nil))
}

func (w *fieldWriter) boolean(path string, v bool) {
	sum(w, path, 'b', strconv.FormatBool(v))
	w.doc.AddField(document.NewBooleanFieldWithIndexingOptions(path, nil, v, boolOptions))
}

func (w *fieldWriter) stored(path string, v []byte) {
	sum(w, path, 's', v)
	w.doc.AddField(document.NewTextFieldCustom(path, nil, v, storedOnly, nil))
}
