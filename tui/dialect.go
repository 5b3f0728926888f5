package tui

import (
	"regexp"
	"strings"
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

// temporalOps are the words that, after a field name, make a Temporal
// list filter.
var temporalOps = map[string]bool{"IN": true, "NOT": true, "BETWEEN": true, "STARTS_WITH": true, "LIKE": true, "CONTAINS": true, "IS": true}

// isTemporalDialect mirrors visibility/query.Detect: after spaces, "(" and
// NOT, a name followed by a comparison operator or an upper-case keyword,
// or a leading ORDER BY, is the Temporal list filter.
func isTemporalDialect(q string) bool {
	s := strings.TrimLeft(q, " \t(")
	for strings.HasPrefix(strings.ToUpper(s), "NOT ") || strings.HasPrefix(strings.ToUpper(s), "NOT(") {
		s = strings.TrimLeft(s[3:], " \t(")
	}
	if loc := orderByRE.FindStringIndex(s); loc != nil && loc[0] == 0 {
		return true
	}
	var name string
	if strings.HasPrefix(s, "`") {
		end := strings.IndexByte(s[1:], '`')
		if end < 0 {
			return false
		}
		name, s = s[1:end+1], s[end+2:]
	} else {
		i := strings.IndexFunc(s, func(r rune) bool { return strings.ContainsRune(" \t()=!<>'\"`:", r) })
		if i < 0 {
			return false
		}
		name, s = s[:i], s[i:]
	}
	if name == "" {
		return false
	}
	rest := strings.TrimLeft(s, " \t")
	switch {
	case rest == "":
		return false
	case strings.ContainsRune("=<>", rune(rest[0])), strings.HasPrefix(rest, "!="):
		return true
	case len(rest) == len(s):
		return false // no space after the name
	}
	w := rest
	if i := strings.IndexAny(rest, " \t("); i >= 0 {
		w = rest[:i]
	}
	return temporalOps[w]
}
