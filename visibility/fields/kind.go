// Package fields is the one specification of the search index's built-in
// fields: the table Builtin gives each field's name, kind, Temporal
// aliases, how it is searched and sorted, and how its value is read from a
// run's Facts. The bleve mapping and the document builder (package
// visibility), the query schema (package visibility/query) and the sort
// windows are all built from it. Adding a field is one entry here, and
// what the tests then ask for: a sample run that sets it
// (visibility's sampleRuns, TestFieldTableDrivesIndex), its name in the
// README's list (TestREADMEListsEveryField), and, since documents change,
// a new mappingVersion and document digests (TestDocumentBytesUnchanged).
//
// It links no bleve: the query package and the index read it, and it says
// nothing about how bleve stores a kind (that is visibility/mapping.go).
package fields

// Kind is how a field is indexed, and so which comparisons it supports.
type Kind int

// Field kinds. The zero Kind is invalid.
const (
	// KindKeyword is an exact, sortable value (ids, type, status, names).
	KindKeyword Kind = iota + 1
	// KindText is analyzed full text (input, result, failure messages).
	KindText
	// KindNumber is a float64 (durations in ms, counts, percentages).
	KindNumber
	// KindTime is a date-time.
	KindTime
	// KindBool is true or false.
	KindBool
)

func (k Kind) String() string {
	switch k {
	case KindKeyword:
		return "keyword"
	case KindText:
		return "text"
	case KindNumber:
		return "number"
	case KindTime:
		return "time"
	case KindBool:
		return "bool"
	}
	return "invalid kind"
}

// Sortable tells whether searches may sort on a field of the kind: every
// kind but text, which has no single value to sort by (and keeps no doc
// values).
func (k Kind) Sortable() bool { return k != KindText }

// Facetable tells whether counts may group by a field of the kind and
// searches ask for its top values: keyword fields.
func (k Kind) Facetable() bool { return k == KindKeyword }
