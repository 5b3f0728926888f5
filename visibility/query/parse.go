package query

import (
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"

	"github.com/foremanhq/foreman/visibility/query/dialect"
)

// Dialect is one of the two query languages.
type Dialect int

const (
	// QueryString is the bleve query-string dialect: status:running type:Order.
	QueryString Dialect = iota + 1
	// Temporal is the Temporal list-filter dialect: ExecutionStatus = 'Running'.
	Temporal
)

func (d Dialect) String() string {
	switch d {
	case QueryString:
		return "query string"
	case Temporal:
		return "temporal"
	}
	return "invalid dialect"
}

// MaxQueryLen bounds the length of a query in bytes.
const MaxQueryLen = 16 << 10

// Parse detects the dialect of q (see Detect) and returns the bleve query.
// An empty query matches every run. Relative times (now-24h) are taken
// from now; a zero now means time.Now(). A bad query returns an *Error.
// An ORDER BY clause is accepted and ignored; ParseWithSort returns it.
func Parse(q string, s Schema, now time.Time) (bq.Query, error) {
	bqq, _, err := ParseWithSort(q, s, now)
	return bqq, err
}

// ParseWithSort is Parse that also returns the sort of a Temporal ORDER BY
// clause as bleve sort strings ("-start_time"); nil when there is none.
func ParseWithSort(q string, s Schema, now time.Time) (bq.Query, []string, error) {
	return ParseDialect(Detect(q, s), q, s, now)
}

// ParseDialect parses q in the given dialect, without detection.
func ParseDialect(d Dialect, q string, s Schema, now time.Time) (bq.Query, []string, error) {
	if len(q) > MaxQueryLen {
		return nil, nil, failf(MaxQueryLen, "", "query too long (%d bytes, at most %d)", len(q), MaxQueryLen)
	}
	if now.IsZero() {
		now = time.Now()
	}
	var (
		n    *node
		sort []string
		err  *Error
	)
	switch d {
	case Temporal:
		n, sort, err = parseTemporal(q, s, now)
	case QueryString:
		n, err = parseQueryString(q, s, now)
	default:
		return nil, nil, failf(0, "", "unknown dialect %d", int(d))
	}
	if err != nil {
		return nil, nil, err // not a typed nil: err is non-nil here
	}
	if n == nil {
		return bq.NewMatchAllQuery(), sort, nil
	}
	return n.lower(), sort, nil
}

// Detect says which dialect q is written in: the rule of
// dialect.IsTemporal, with the schema's names as the known fields. It looks
// only at the start of the query and never fails, so a query string never
// starts with a name and a comparison operator, and free text such as
// `card is declined` stays free text. A condition of the other dialect
// later in the query is an error that says so (errors.go), not free text.
func Detect(q string, s Schema) Dialect {
	if dialect.IsTemporal(q, knownIn(s)) {
		return Temporal
	}
	return QueryString
}

// knownIn is the schema as dialect.Known.
func knownIn(s Schema) dialect.Known {
	return func(name string) bool {
		_, ok := s.Lookup(name)
		return ok
	}
}

// wordAt returns the run of letters, digits, "_" and "." at q[i:].
func wordAt(q string, i int) string { return dialect.WordAt(q, i) }
