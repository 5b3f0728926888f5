package query

import (
	"math"
	"regexp"
	"strings"
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"
	vregexp "github.com/blevesearch/vellum/regexp"
)

// The leaf queries, shared by both dialects: the same condition written in
// either dialect builds the same bleve query.

// eq is field = value: an exact term on keyword fields, a phrase on text
// fields, a point on numbers and times (a whole day for a bare date).
func eq(f Field, l lit, now time.Time) (*node, *Error) {
	switch f.Kind {
	case KindKeyword:
		v, err := keywordValue(f, l)
		if err != nil {
			return nil, err
		}
		q := bq.NewTermQuery(v)
		q.SetField(f.Path)
		return leaf(q), nil
	case KindText:
		q := bq.NewMatchPhraseQuery(l.text)
		q.SetField(f.Path)
		return leaf(q), nil
	case KindNumber:
		v, err := numberValue(f, l)
		if err != nil {
			return nil, err
		}
		return numRange(f, &v, &v, true, true), nil
	case KindTime:
		t, day, err := timeValue(f, l, now)
		if err != nil {
			return nil, err
		}
		if day {
			return dateRange(f, t, t.Add(24*time.Hour), true, false), nil
		}
		return dateRange(f, t, t, true, true), nil
	case KindBool:
		v, err := boolValue(f, l)
		if err != nil {
			return nil, err
		}
		q := bq.NewBoolFieldQuery(v)
		q.SetField(f.Path)
		return leaf(q), nil
	}
	return nil, badKind(f, l.pos)
}

// cmp is field < value (op one of < <= > >=).
func cmp(f Field, op string, opPos int, l lit, now time.Time) (*node, *Error) {
	var lo, hi *lit
	if op[0] == '>' {
		lo = &l
	} else {
		hi = &l
	}
	incl := len(op) == 2
	return rangeOf(f, op, opPos, lo, hi, incl, incl, now)
}

// rangeOf is a range with optional ends; what names the operator in errors.
func rangeOf(f Field, what string, opPos int, lo, hi *lit, loIncl, hiIncl bool, now time.Time) (*node, *Error) {
	switch f.Kind {
	case KindKeyword:
		var min, max string
		if lo != nil {
			v, err := keywordValue(f, *lo)
			if err != nil {
				return nil, err
			}
			min = v
		}
		if hi != nil {
			v, err := keywordValue(f, *hi)
			if err != nil {
				return nil, err
			}
			max = v
		}
		if min == "" && max == "" {
			return exists(f), nil
		}
		var li, hi *bool
		if min != "" {
			li = &loIncl
		}
		if max != "" {
			hi = &hiIncl
		}
		q := bq.NewTermRangeInclusiveQuery(min, max, li, hi)
		q.SetField(f.Path)
		return leaf(q), nil
	case KindNumber:
		var min, max *float64
		for _, e := range []struct {
			l   *lit
			dst **float64
		}{{lo, &min}, {hi, &max}} {
			if e.l == nil {
				continue
			}
			v, err := numberValue(f, *e.l)
			if err != nil {
				return nil, err
			}
			*e.dst = &v
		}
		if min == nil && max == nil {
			return exists(f), nil
		}
		return numRange(f, min, max, loIncl, hiIncl), nil
	case KindTime:
		var start, end time.Time
		if lo != nil {
			t, _, err := timeValue(f, *lo, now)
			if err != nil {
				return nil, err
			}
			start = t
		}
		if hi != nil {
			t, _, err := timeValue(f, *hi, now)
			if err != nil {
				return nil, err
			}
			end = t
		}
		if start.IsZero() && end.IsZero() {
			return exists(f), nil
		}
		return dateRange(f, start, end, loIncl, hiIncl), nil
	}
	return nil, needKind(f, what, opPos, "a keyword, number or time field")
}

// exists matches runs that have a value in the field.
func exists(f Field) *node {
	switch f.Kind {
	case KindNumber:
		lowest := -math.MaxFloat64
		return numRange(f, &lowest, nil, true, false)
	case KindTime:
		return dateRange(f, minTime, time.Time{}, true, false)
	case KindBool:
		t, fl := bq.NewBoolFieldQuery(true), bq.NewBoolFieldQuery(false)
		t.SetField(f.Path)
		fl.SetField(f.Path)
		return or(leaf(t), leaf(fl))
	}
	q := bq.NewWildcardQuery("*")
	q.SetField(f.Path)
	return leaf(q)
}

func numRange(f Field, min, max *float64, loIncl, hiIncl bool) *node {
	var li, hi *bool
	if min != nil {
		li = &loIncl
	}
	if max != nil {
		hi = &hiIncl
	}
	q := bq.NewNumericRangeInclusiveQuery(min, max, li, hi)
	q.SetField(f.Path)
	return leaf(q)
}

func dateRange(f Field, start, end time.Time, loIncl, hiIncl bool) *node {
	var li, hi *bool
	if !start.IsZero() {
		li = &loIncl
	}
	if !end.IsZero() {
		hi = &hiIncl
	}
	q := bq.NewDateRangeInclusiveQuery(start, end, li, hi)
	q.SetField(f.Path)
	return leaf(q)
}

// patElem is a piece of a wildcard pattern: literal text, or a wildcard
// standing for any run of characters (*) or exactly one (?).
type patElem struct {
	wild byte // 0 for literal text, '*' or '?'
	text string
}

type pattern []patElem

func (p pattern) hasWild() bool {
	for _, e := range p {
		if e.wild != 0 {
			return true
		}
	}
	return false
}

func (p pattern) literal() string {
	var b strings.Builder
	for _, e := range p {
		if e.wild == 0 {
			b.WriteString(e.text)
		} else {
			b.WriteByte(e.wild)
		}
	}
	return b.String()
}

// matchPattern matches a keyword field against a wildcard pattern (a text
// field term by term, lower-cased as the analyzer does). A trailing * alone
// is a prefix query, cheaper than a wildcard; a pattern with a literal * or
// ? (escaped by the user) becomes a regular expression, because bleve's
// wildcards cannot escape them.
func matchPattern(f Field, p pattern, pos int, what string) (*node, *Error) {
	if f.Kind != KindKeyword && f.Kind != KindText {
		return nil, needKind(f, what, pos, "a keyword or text field")
	}
	if f.Kind == KindText {
		low := make(pattern, len(p))
		for i, e := range p {
			low[i] = patElem{e.wild, strings.ToLower(e.text)}
		}
		p = low
	}
	if len(p) == 1 && p[0].wild == '*' {
		return exists(f), nil
	}
	if len(p) == 2 && p[0].wild == 0 && p[1].wild == '*' {
		q := bq.NewPrefixQuery(p[0].text)
		q.SetField(f.Path)
		return leaf(q), nil
	}
	literalWild := false
	for _, e := range p {
		if e.wild == 0 && strings.ContainsAny(e.text, "*?") {
			literalWild = true
		}
	}
	if !literalWild {
		q := bq.NewWildcardQuery(p.literal())
		q.SetField(f.Path)
		return leaf(q), nil
	}
	var re strings.Builder
	for _, e := range p {
		switch e.wild {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(e.text))
		}
	}
	q := bq.NewRegexpQuery(re.String())
	q.SetField(f.Path)
	return leaf(q), nil
}

// compact merges adjacent literals and collapses runs of *.
func (p pattern) compact() pattern {
	var out pattern
	for _, e := range p {
		if e.wild == 0 && e.text == "" {
			continue
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if e.wild == 0 && last.wild == 0 {
				last.text += e.text
				continue
			}
			if e.wild == '*' && last.wild == '*' {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// prefix is STARTS_WITH on a keyword field.
func prefix(f Field, l lit, opPos int) (*node, *Error) {
	if f.Kind != KindKeyword {
		return nil, needKind(f, "STARTS_WITH", opPos, "a keyword field")
	}
	return matchPattern(f, pattern{{0, l.text}, {'*', ""}}.compact(), opPos, "STARTS_WITH")
}

// contains is a substring of a keyword field, or a phrase in a text field.
func contains(f Field, l lit, opPos int, now time.Time) (*node, *Error) {
	switch f.Kind {
	case KindText:
		return eq(f, l, now)
	case KindKeyword:
		return matchPattern(f, pattern{{'*', ""}, {0, l.text}, {'*', ""}}.compact(), opPos, "CONTAINS")
	}
	return nil, needKind(f, "CONTAINS", opPos, "a keyword or text field")
}

// like is SQL LIKE: % any run, _ one character, \ escapes. On a text field
// only '%words%' (a phrase anywhere) is meaningful.
func like(f Field, l lit, opPos int, now time.Time) (*node, *Error) {
	var p pattern
	s := l.text
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			p = append(p, patElem{0, s[i : i+1]})
		case c == '%':
			p = append(p, patElem{'*', ""})
		case c == '_':
			p = append(p, patElem{'?', ""})
		default:
			p = append(p, patElem{0, s[i : i+1]})
		}
	}
	p = p.compact()
	switch f.Kind {
	case KindKeyword:
		if !p.hasWild() {
			return eq(f, lit{p.literal(), l.pos, true}, now)
		}
		return matchPattern(f, p, opPos, "LIKE")
	case KindText:
		inner := p
		if len(inner) > 0 && inner[0].wild == '*' {
			inner = inner[1:]
		}
		if len(inner) > 0 && inner[len(inner)-1].wild == '*' {
			inner = inner[:len(inner)-1]
		}
		if len(inner) == 1 && inner[0].wild == 0 {
			return eq(f, lit{inner[0].text, l.pos, true}, now)
		}
		if len(inner) == 0 {
			return exists(f), nil
		}
		e := failf(l.pos, l.found(), "%s is a text field: LIKE on it takes '%%words%%' (a phrase anywhere); use a keyword field for other patterns", f.Path)
		e.Expected = "'%words%'"
		return nil, e
	}
	return nil, needKind(f, "LIKE", opPos, "a keyword or text field")
}

// fuzzy matches terms within n edits (bleve supports at most 2).
func fuzzy(f Field, l lit, n int, pos int) (*node, *Error) {
	switch f.Kind {
	case KindKeyword:
		q := bq.NewFuzzyQuery(l.text)
		q.SetFuzziness(n)
		q.SetField(f.Path)
		return leaf(q), nil
	case KindText:
		q := bq.NewMatchQuery(l.text)
		q.SetFuzziness(n)
		q.SetField(f.Path)
		return leaf(q), nil
	}
	return nil, needKind(f, "~ (fuzzy match)", pos, "a keyword or text field")
}

// regexpLimit bounds the size of a regular expression's automaton: well
// under the index's own limit, so a query that parses also runs.
const regexpLimit = 1 << 16

// regexpMatch matches whole terms of a keyword or text field.
func regexpMatch(f Field, re string, pos int) (*node, *Error) {
	if f.Kind != KindKeyword && f.Kind != KindText {
		return nil, needKind(f, "a regular expression", pos, "a keyword or text field")
	}
	if len(re) > 1000 {
		return nil, failf(pos, quoteFound(re), "regular expression too long (%d bytes, at most 1000)", len(re))
	}
	if _, err := vregexp.NewWithLimit(re, regexpLimit); err != nil {
		e := failf(pos, quoteFound(re), "bad regular expression /%s/: %v", re, err)
		e.Expected = "a regular expression"
		return nil, e
	}
	q := bq.NewRegexpQuery(re)
	q.SetField(f.Path)
	return leaf(q), nil
}

func needKind(f Field, what string, pos int, need string) *Error {
	e := failf(pos, quoteFound(what), "%s needs %s; %s is a %s field", what, need, f.Path, f.Kind)
	e.Expected = need
	return e
}

func badKind(f Field, pos int) *Error {
	return failf(pos, quoteFound(f.Path), "field %s has an invalid kind", f.Path)
}
