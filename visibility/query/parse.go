package query

import (
	"strings"
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"
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

// Detect says which dialect q is written in. The rule is syntactic, looks
// only at the start of the query, and never fails:
//
//  1. Skip spaces, opening parentheses and the word NOT.
//  2. ORDER BY there means Temporal.
//  3. Read a name: a `backquoted name`, or letters, digits, "_" and ".".
//  4. Temporal when the name is followed (spaces allowed) by =, !=, <>, <,
//     <=, > or >=; or by one of the words IN, NOT, BETWEEN, STARTS_WITH,
//     LIKE, CONTAINS or IS, when that word is in upper case or the name is
//     backquoted or a known field.
//  5. Anything else is the query string: status:running, "card declined",
//     -type:Order, order-42.
//
// So a query string never starts with a name and a comparison operator,
// and free text such as `card is declined` stays free text.
func Detect(q string, s Schema) Dialect {
	i := 0
	for {
		for i < len(q) && isSpace(q[i]) {
			i++
		}
		if i < len(q) && q[i] == '(' {
			i++
			continue
		}
		if w := wordAt(q, i); strings.EqualFold(w, "NOT") && i+3 < len(q) && (isSpace(q[i+3]) || q[i+3] == '(') {
			i += 3
			continue
		}
		break
	}
	if strings.EqualFold(wordAt(q, i), "ORDER") {
		j := i + 5
		for j < len(q) && isSpace(q[j]) {
			j++
		}
		if j > i+5 && strings.EqualFold(wordAt(q, j), "BY") {
			return Temporal
		}
	}
	name, backquoted := "", false
	if i < len(q) && q[i] == '`' {
		end := strings.IndexByte(q[i+1:], '`')
		if end < 0 {
			return QueryString
		}
		name, backquoted = q[i+1:i+1+end], true
		i += end + 2
	} else {
		name = wordAt(q, i)
		i += len(name)
	}
	if name == "" {
		return QueryString
	}
	spaced := i < len(q) && isSpace(q[i])
	for i < len(q) && isSpace(q[i]) {
		i++
	}
	if i >= len(q) {
		return QueryString
	}
	switch q[i] {
	case '=', '<', '>':
		return Temporal
	case '!':
		if i+1 < len(q) && q[i+1] == '=' {
			return Temporal
		}
	}
	if !spaced {
		return QueryString
	}
	w := wordAt(q, i)
	switch strings.ToUpper(w) {
	case "IN", "NOT", "BETWEEN", "STARTS_WITH", "LIKE", "CONTAINS", "IS":
		if w == strings.ToUpper(w) || backquoted {
			return Temporal
		}
		if _, ok := s.Lookup(name); ok {
			return Temporal
		}
	}
	return QueryString
}

// wordAt returns the run of letters, digits, "_" and "." at q[i:].
func wordAt(q string, i int) string {
	j := i
	for j < len(q) {
		c := q[j]
		if c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			j++
			continue
		}
		break
	}
	return q[i:j]
}
