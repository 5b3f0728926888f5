package tui

import (
	"regexp"
	"strings"

	"github.com/foremanhq/foreman/visibility/query/dialect"
)

// The two search dialects (visibility/query): the query string
// (`status:running type:Order`) and Temporal's list filter
// (`ExecutionStatus = 'Running'`). Presets such as :failed are written in
// both, so the operator's search can be either and still be combined.

// preset is a fixed condition in both dialects ("" for none).
type preset struct {
	qs, temporal string
}

// orderByRE finds a Temporal ORDER BY clause, which must stay last.
var orderByRE = regexp.MustCompile(`(?i)\bORDER\s+BY\b`)

// combine ANDs the preset with the operator's query q, in q's dialect. off
// is where q starts in the result, to point the index's errors back at what
// the operator typed.
func (p preset) combine(q string) (query string, off int) {
	q = strings.TrimSpace(q)
	switch {
	case p.qs == "":
		return q, 0
	case q == "":
		return p.qs, 0
	case !isTemporalDialect(q):
		head := p.qs + " ("
		return head + q + ")", len(head)
	}
	body, order := q, ""
	if loc := orderByRE.FindStringIndex(q); loc != nil {
		body, order = strings.TrimSpace(q[:loc[0]]), " "+q[loc[0]:]
	}
	if body == "" {
		return p.temporal + order, 0
	}
	head := p.temporal + " AND ("
	return head + body + ")" + order, len(head)
}

// isTemporalDialect is the index's own rule (package dialect), with the
// built-in field names: the console does not know custom attributes, which
// matters only for a lower-case keyword after one (CustomerId in (…)).
func isTemporalDialect(q string) bool { return dialect.IsTemporal(q, dialect.Builtin) }
