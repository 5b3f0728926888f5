package query

import (
	"fmt"
	"sort"
	"strings"
)

// Error is a bad query: Pos is the byte offset of the offending token in the
// query as written, Expected what would have been valid there, Found the
// token that was there instead ("end of query" at the end). Msg is the whole
// explanation without the position; Error() prefixes it with "at <Pos>: ".
type Error struct {
	Pos      int
	Expected string
	Found    string
	Msg      string
}

func (e *Error) Error() string { return fmt.Sprintf("at %d: %s", e.Pos, e.Msg) }

// endOfQuery is what Found says when the query ended too early.
const endOfQuery = "end of query"

// expected builds the common "expected X, found Y" error.
func expected(pos int, what, after, found string) *Error {
	msg := "expected " + what
	if after != "" {
		msg += " after " + after
	}
	msg += ", found " + found
	return &Error{Pos: pos, Expected: what, Found: found, Msg: msg}
}

// failf builds an error whose message is not of the expected/found form
// (a value of the wrong type, an unknown field).
func failf(pos int, found, format string, args ...any) *Error {
	return &Error{Pos: pos, Found: found, Msg: fmt.Sprintf(format, args...)}
}

// quoteFound renders a token for an error message.
func quoteFound(s string) string {
	if s == "" {
		return endOfQuery
	}
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// unknownField is the error for a name the schema does not know, with the
// closest known names as suggestions.
func unknownField(pos int, name string, s Schema) *Error {
	e := &Error{Pos: pos, Expected: "a field name", Found: quoteFound(name)}
	e.Msg = fmt.Sprintf("unknown field %q", name)
	if sug := suggest(name, knownNames(s)); len(sug) > 0 {
		e.Msg += " (did you mean " + orList(sug) + "?)"
		e.Expected = orList(sug)
	}
	return e
}

// orList renders ["a","b","c"] as `a, b or c`.
func orList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// suggest returns up to three candidates closest to name, ignoring case and
// underscores: those within a small edit distance of the best match, then
// those that contain it or that it contains. Candidates that differ only in
// spelling (workflow_id, WorkflowId) count once, in the style name was
// written in.
func suggest(name string, candidates []string) []string {
	key := fold(name)
	if key == "" {
		return nil
	}
	snake := strings.Contains(name, "_")
	type scored struct {
		name string
		d    int
	}
	byKey := map[string]int{} // folded candidate -> index in hits
	var hits []scored
	limit := max(2, len(key)/3)
	for _, c := range candidates {
		ck := fold(c)
		if i, ok := byKey[ck]; ok {
			if strings.Contains(c, "_") == snake && strings.Contains(hits[i].name, "_") != snake {
				hits[i].name = c
			}
			continue
		}
		d := editDistance(key, ck)
		switch {
		case d <= limit:
		case len(key) >= 3 && (strings.Contains(ck, key) || strings.Contains(key, ck) && len(ck) >= 3):
			d = limit + 1
		default:
			continue
		}
		byKey[ck] = len(hits)
		hits = append(hits, scored{c, d})
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].d != hits[j].d {
			return hits[i].d < hits[j].d
		}
		return hits[i].name < hits[j].name
	})
	var out []string
	for _, h := range hits {
		if len(out) == 3 || h.d > hits[0].d+1 {
			break
		}
		out = append(out, h.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b (bytes; names
// are ASCII in practice). Inputs are capped so hostile queries stay cheap.
func editDistance(a, b string) int {
	const cap = 64
	if len(a) > cap {
		a = a[:cap]
	}
	if len(b) > cap {
		b = b[:cap]
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Mixing the dialects: a query is one dialect (Detect decides from its
// start), and a condition of the other dialect later in it would not mean
// what it says — in a query string, `WorkflowType = 'Order'` is three
// free-text terms that match nothing, and a batch over it has "nothing to
// do". These errors say so instead.

// mixedInQueryString is a list-filter condition (name op …, or ORDER BY)
// found at pos in a query string.
func mixedInQueryString(pos int, name string) *Error {
	if name == "ORDER BY" {
		return &Error{Pos: pos, Expected: "a query-string term", Found: quoteFound(name),
			Msg: "mixes the two dialects: ORDER BY is list-filter syntax in a query string (name:value), where it would match as free text; sort by a column (o/O in the console, --sort in the CLI), or write the whole query as a list filter"}
	}
	return &Error{Pos: pos, Expected: name + ":value", Found: quoteFound(name),
		Msg: fmt.Sprintf("mixes the two dialects: %s with an operator is a list-filter condition in a query string (name:value), where it would match as free text; write %s:value, or the whole query as a list filter (name = 'value' AND …)", name, name)}
}

// mixedInTemporal is a query-string term (name:value) at pos in a list
// filter; ok is false when text is not one.
func mixedInTemporal(pos int, text string, s Schema) (*Error, bool) {
	name, value, found := strings.Cut(strings.TrimLeft(text, "-+!"), ":")
	if !found || name == "" {
		return nil, false
	}
	if _, ok := s.Lookup(name); !ok {
		return nil, false
	}
	return &Error{Pos: pos, Expected: name + " = 'value'", Found: quoteFound(text),
		Msg: fmt.Sprintf("mixes the two dialects: %s is a query-string term in a list filter (name = 'value'); write %s = '%s', or the whole query as a query string", text, name, value)}, true
}
