package visibility

import (
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/foremanhq/foreman/visibility/fields"
	"github.com/foremanhq/foreman/visibility/query"
)

// mappingVersion names the mapping and the way documents are derived from
// history. Change it whenever either changes (an entry of fields.Builtin
// added, removed or changed included; TestDocumentBytesUnchanged says
// when): an index written under another version is dropped and rebuilt
// from history on open.
const mappingVersion = "foreman-vis-13"

// Index paths beside the built-in fields: the stored summary returned by
// searches, and a fingerprint of every indexed value (consistency checks
// compare it between indexes).
const (
	fieldDoc         = "_doc"
	fieldFingerprint = "_fp"
)

// Indexing options by kind. Keyword and bool fields keep DocValues (sort
// and facets read them) and skip frequencies and norms (no relevance
// scoring on exact values). Text fields keep term vectors, which phrase
// queries need (a bare word is a phrase match on every text field), and
// nothing else: they are never sorted or faceted. Numbers and times are
// bucket terms in their field and an exact term with DocValues in its
// companion field (rangeindex.go).
const (
	keywordOptions = index.IndexField | index.DocValues | index.SkipFreqNorm
	textOptions    = index.IndexField | index.IncludeTermVectors
	boolOptions    = index.IndexField | index.DocValues | index.SkipFreqNorm
	bucketOptions  = index.IndexField | index.SkipFreqNorm
	exactOptions   = index.IndexField | index.DocValues | index.SkipFreqNorm
	storedOnly     = index.StoreField
)

// buildMapping is the static mapping: one field mapping per built-in field
// (the table fields.Builtin) by its kind, the stored summary, and a
// sub-document for custom attributes whose text values are analyzed like
// the built-in text fields. Documents are built by docBuilder with the same
// options; the mapping is what query-time analysis and the index metadata
// see.
func buildMapping() (mapping.IndexMapping, error) {
	im := bleve.NewIndexMapping()
	im.DefaultAnalyzer = standard.Name
	im.StoreDynamic, im.IndexDynamic, im.DocValuesDynamic = false, false, false
	dm := bleve.NewDocumentStaticMapping()
	for _, f := range fields.Builtin {
		dm.AddFieldMappingsAt(f.Name, fieldMapping(f.Kind))
		if f.Kind == query.KindNumber || f.Kind == query.KindTime {
			dm.AddFieldMappingsAt(exactField(f.Name), fieldMapping(query.KindKeyword))
		}
	}
	dm.AddFieldMappingsAt(fieldDoc, &mapping.FieldMapping{Type: "text", Analyzer: keyword.Name, Store: true})
	dm.AddFieldMappingsAt(fieldFingerprint, &mapping.FieldMapping{Type: "text", Analyzer: keyword.Name, Store: true})
	attrs := bleve.NewDocumentStaticMapping()
	attrs.DefaultAnalyzer = standard.Name
	dm.AddSubDocumentMapping("attr", attrs)
	im.DefaultMapping = dm
	if err := im.Validate(); err != nil {
		return nil, err
	}
	return im, nil
}

// fieldMapping is what the mapping says of a field of kind k (numbers and
// times: their bucket terms, keyword-like; see rangeindex.go).
func fieldMapping(k query.Kind) *mapping.FieldMapping {
	fm := &mapping.FieldMapping{Index: true, DocValues: true}
	switch k {
	case query.KindKeyword:
		fm.Type, fm.Analyzer, fm.SkipFreqNorm = "text", keyword.Name, true
	case query.KindText:
		fm.Type, fm.Analyzer, fm.DocValues, fm.IncludeTermVectors = "text", standard.Name, false, true
	case query.KindNumber, query.KindTime:
		fm.Type, fm.Analyzer, fm.DocValues, fm.SkipFreqNorm = "text", keyword.Name, false, true
	case query.KindBool:
		fm.Type, fm.SkipFreqNorm = "boolean", true
	}
	return fm
}
