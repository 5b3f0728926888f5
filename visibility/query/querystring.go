package query

import (
	"strconv"
	"strings"
	"time"

	"github.com/foremanhq/foreman/visibility/query/dialect"
)

// The bleve query-string dialect, extended:
//
//	status:running type:Order failure:"card declined" -waiting_on:approval
//	start_time:>"2026-11-01" approval_since:<now-24h workflow_id:*-42*
//	(type:Order OR type:Refund) duration_ms:[1s TO 5m}
//
// See the package documentation for the grammar. Unlike bleve's own query
// string, clauses without a prefix are all required (AND), as a filter
// language should be; OR and parentheses give alternatives.

type qsParser struct {
	src   string
	pos   int
	s     Schema
	now   time.Time
	depth int
}

func parseQueryString(q string, s Schema, now time.Time) (*node, *Error) {
	p := &qsParser{src: q, s: s, now: now}
	n, err := p.parseOr(nil)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		// Only an unmatched ")" stops parseOr before the end.
		return nil, expected(p.pos, "a term, AND, OR or the end of the query", "", p.foundHere())
	}
	return n, nil
}

// knows reports whether name is a field: only a known name followed by
// an operator is taken for a list-filter condition (`user=alice` stays free
// text).
func (p *qsParser) knows(name string) bool {
	_, ok := p.s.Lookup(name)
	return ok
}

func (p *qsParser) eof() bool { return p.pos >= len(p.src) }

func (p *qsParser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// foundHere renders the token at the current position for errors: a
// parenthesis, or the text up to the next space or parenthesis.
func (p *qsParser) foundHere() string {
	if p.eof() {
		return endOfQuery
	}
	if c := p.src[p.pos]; c == '(' || c == ')' {
		return quoteFound(string(c))
	}
	end := p.pos
	for end < len(p.src) && !isSpace(p.src[end]) && p.src[end] != '(' && p.src[end] != ')' {
		end++
	}
	return quoteFound(p.src[p.pos:end])
}

// atWord reports whether the upper-case operator word w (AND, OR, NOT, TO)
// is at the current position, standing alone.
func (p *qsParser) atWord(w string) bool {
	if !strings.HasPrefix(p.src[p.pos:], w) {
		return false
	}
	end := p.pos + len(w)
	return end == len(p.src) || isSpace(p.src[end]) || p.src[end] == '(' || p.src[end] == ')'
}

func (p *qsParser) atOr() bool  { return p.atWord("OR") || p.atWord("||") }
func (p *qsParser) atAnd() bool { return p.atWord("AND") || p.atWord("&&") }

// parseOr: and ( (OR | ||) and )*. ctx is the field a bare value applies
// to (inside field:( ... )), nil for the default fields. It returns nil
// for an empty query.
func (p *qsParser) parseOr(ctx *Field) (*node, *Error) {
	left, err := p.parseAnd(ctx)
	if err != nil {
		return nil, err
	}
	var kids []*node
	if left != nil {
		kids = append(kids, left)
	}
	for p.skipSpace(); p.atOr(); p.skipSpace() {
		opPos := p.pos
		op := p.src[p.pos : p.pos+2]
		if left == nil {
			return nil, expected(opPos, "a term", "", quoteFound(op))
		}
		p.pos += 2
		right, err := p.parseAnd(ctx)
		if err != nil {
			return nil, err
		}
		if right == nil {
			return nil, expected(p.pos, "a term", quoteFound(op), p.foundHere())
		}
		kids = append(kids, right)
	}
	if len(kids) == 0 {
		return nil, nil
	}
	return or(kids...), nil
}

// parseAnd: clause ( [AND | &&] clause )*, stopping at OR, ")" or the end.
func (p *qsParser) parseAnd(ctx *Field) (*node, *Error) {
	var kids []*node
	for {
		p.skipSpace()
		if p.eof() || p.src[p.pos] == ')' || p.atOr() {
			break
		}
		if p.atAnd() {
			opPos, word := p.pos, "AND"
			if p.src[p.pos] == '&' {
				word = "&&"
			}
			op := quoteFound(word)
			p.pos += len(word)
			if len(kids) == 0 {
				return nil, expected(opPos, "a term", "", op)
			}
			p.skipSpace()
			if p.eof() || p.src[p.pos] == ')' || p.atOr() || p.atAnd() {
				return nil, expected(p.pos, "a term", op, p.foundHere())
			}
		}
		c, err := p.parseClause(ctx)
		if err != nil {
			return nil, err
		}
		kids = append(kids, c)
	}
	if len(kids) == 0 {
		return nil, nil
	}
	return and(kids...), nil
}

// parseClause: [+ | - | ! | NOT] primary [^boost].
func (p *qsParser) parseClause(ctx *Field) (*node, *Error) {
	p.skipSpace()
	if p.eof() {
		return nil, expected(p.pos, "a term", "", endOfQuery)
	}
	prefix := ""
	switch c := p.src[p.pos]; {
	case c == '+' || c == '-' || c == '!':
		prefix = string(c)
		p.pos++
	case p.atWord("NOT"):
		prefix = "NOT"
		p.pos += 3
	}
	if prefix != "" {
		if p.depth++; p.depth > maxDepth {
			return nil, failf(p.pos-len(prefix), quoteFound(prefix), "query nests too deeply (more than %d levels)", maxDepth)
		}
		defer func() { p.depth-- }()
		p.skipSpace()
		if p.eof() || p.src[p.pos] == ')' || p.atOr() || p.atAnd() {
			return nil, expected(p.pos, "a term", quoteFound(prefix), p.foundHere())
		}
		n, err := p.parseClause(ctx)
		if err != nil {
			return nil, err
		}
		if prefix == "+" {
			return n, nil // required, which every clause already is
		}
		return not(n), nil
	}
	n, err := p.parsePrimary(ctx)
	if err != nil {
		return nil, err
	}
	return p.parseBoost(n)
}

// parseBoost reads an optional ^n after a clause.
func (p *qsParser) parseBoost(n *node) (*node, *Error) {
	if p.eof() || p.src[p.pos] != '^' {
		return n, nil
	}
	start := p.pos
	p.pos++
	end := p.pos
	for end < len(p.src) && (p.src[end] >= '0' && p.src[end] <= '9' || p.src[end] == '.') {
		end++
	}
	b, err := strconv.ParseFloat(p.src[p.pos:end], 64)
	if err != nil || b < 0 {
		p.pos = start + 1
		return nil, expected(start+1, "a boost (a number) after \"^\"", "", p.foundHere())
	}
	p.pos = end
	boosted := *n
	boosted.boost = &b
	return &boosted, nil
}

// parsePrimary: "(" or ")" | name ":" value | value.
func (p *qsParser) parsePrimary(ctx *Field) (*node, *Error) {
	start := p.pos
	if p.src[p.pos] == '(' {
		return p.parseGroup(ctx)
	}
	if p.src[p.pos] == ')' {
		return nil, expected(p.pos, "a term", "", quoteFound(")"))
	}
	var (
		tok  lit
		pat  pattern
		err  *Error
		quot = p.src[p.pos] == '"'
	)
	if quot {
		tok, err = p.readPhrase()
	} else {
		if ctx == nil {
			if name, ok := dialect.ConditionAt(p.src, start, knownIn(p.s)); ok && (name == "ORDER BY" || p.knows(name)) {
				return nil, mixedInQueryString(start, name)
			}
		}
		tok, pat, err = p.readBare(true, false)
	}
	if err != nil {
		return nil, err
	}
	if !p.eof() && p.src[p.pos] == ':' {
		f, ok := p.s.Lookup(tok.text)
		if !ok {
			return nil, unknownField(start, tok.text, p.s)
		}
		p.pos++
		return p.parseFieldValue(f, tok.text)
	}
	return p.valueNode(ctx, tok, pat, !quot)
}

// parseGroup reads "(" or ")" with ctx applying to bare values inside.
func (p *qsParser) parseGroup(ctx *Field) (*node, *Error) {
	open := p.pos
	p.pos++
	if p.depth++; p.depth > maxDepth {
		return nil, failf(open, quoteFound("("), "query nests too deeply (more than %d levels)", maxDepth)
	}
	defer func() { p.depth-- }()
	n, err := p.parseOr(ctx)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if n == nil {
		return nil, expected(p.pos, "a term", quoteFound("("), p.foundHere())
	}
	if p.eof() || p.src[p.pos] != ')' {
		return nil, expected(p.pos, `")" to close the "(" at `+itoa(open), "", p.foundHere())
	}
	p.pos++
	return n, nil
}

// parseFieldValue reads what follows "name:".
func (p *qsParser) parseFieldValue(f Field, name string) (*node, *Error) {
	after := quoteFound(name + ":")
	p.skipSpace()
	if p.eof() || p.src[p.pos] == ')' {
		return nil, expected(p.pos, "a value", after, p.foundHere())
	}
	switch c := p.src[p.pos]; c {
	case '(':
		return p.parseGroup(&f)
	case '>', '<':
		opPos := p.pos
		op := string(c)
		p.pos++
		if !p.eof() && p.src[p.pos] == '=' {
			op += "="
			p.pos++
		}
		v, err := p.readValue(quoteFound(op), false)
		if err != nil {
			return nil, err
		}
		return cmp(f, op, opPos, v, p.now)
	case '[', '{':
		return p.parseRange(f)
	case '/':
		return p.parseRegexp(f)
	case '"':
		v, err := p.readPhrase()
		if err != nil {
			return nil, err
		}
		return p.valueNode(&f, v, nil, false)
	}
	v, pat, err := p.readBare(false, false)
	if err != nil {
		return nil, err
	}
	return p.valueNode(&f, v, pat, true)
}

// valueNode builds the query for a value in context: a field, or the
// default fields when ctx is nil. A bare (unquoted) value may hold
// wildcards (pat) and be followed by ~n for a fuzzy match.
func (p *qsParser) valueNode(ctx *Field, v lit, pat pattern, bare bool) (*node, *Error) {
	fuzz := -1
	if bare && !p.eof() && p.src[p.pos] == '~' {
		tilde := p.pos
		p.pos++
		end := p.pos
		for end < len(p.src) && p.src[end] >= '0' && p.src[end] <= '9' {
			end++
		}
		fuzz = 1
		if end > p.pos {
			n, err := strconv.Atoi(p.src[p.pos:end])
			if err != nil || n > 2 {
				return nil, failf(p.pos, quoteFound(p.src[p.pos:end]), "fuzziness after \"~\" is 0, 1 or 2, not %s", p.src[p.pos:end])
			}
			fuzz = n
		}
		p.pos = end
		if pat.hasWild() {
			return nil, failf(tilde, `"~"`, "a value cannot have both wildcards and ~")
		}
	}
	build := func(f Field) (*node, *Error) {
		switch {
		case fuzz >= 0:
			return fuzzy(f, v, fuzz, v.pos)
		case bare && len(pat) == 1 && pat[0].wild == '*':
			return exists(f), nil // field:* has a value, whatever its kind
		case bare && pat.hasWild():
			return matchPattern(f, pat, v.pos, "a wildcard")
		}
		return eq(f, v, p.now)
	}
	if ctx != nil {
		return build(*ctx)
	}
	var kids []*node
	var first *Error
	for _, f := range defaultsOf(p.s) {
		n, err := build(f)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		kids = append(kids, n)
	}
	if len(kids) == 0 {
		if first == nil {
			first = failf(v.pos, v.found(), "no default fields to search for %q; write field:value", v.text)
		}
		return nil, first
	}
	return or(kids...), nil
}

// parseRange reads [lo TO hi] ("[" "]" inclusive, "{" "}" exclusive, *
// for an open end).
func (p *qsParser) parseRange(f Field) (*node, *Error) {
	open := p.pos
	loIncl := p.src[p.pos] == '['
	p.pos++
	lo, err := p.readValue(quoteFound(p.src[open:open+1]), true)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.atWord("TO") {
		return nil, expected(p.pos, `"TO"`, quoteFound(lo.text), p.foundHere())
	}
	p.pos += 2
	hi, err := p.readValue(`"TO"`, true)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.src[p.pos] != ']' && p.src[p.pos] != '}' {
		return nil, expected(p.pos, `"]" or "}" to close the range at `+itoa(open), "", p.foundHere())
	}
	hiIncl := p.src[p.pos] == ']'
	p.pos++
	var lop, hip *lit
	if !(lo.text == "*" && !lo.quoted) {
		lop = &lo
	}
	if !(hi.text == "*" && !hi.quoted) {
		hip = &hi
	}
	return rangeOf(f, "a range", open, lop, hip, loIncl, hiIncl, p.now)
}

// parseRegexp reads /regexp/; \/ stands for a slash.
func (p *qsParser) parseRegexp(f Field) (*node, *Error) {
	open := p.pos
	var b strings.Builder
	for i := open + 1; i < len(p.src); i++ {
		c := p.src[i]
		if c == '\\' && i+1 < len(p.src) && p.src[i+1] == '/' {
			b.WriteByte('/')
			i++
			continue
		}
		if c == '/' {
			p.pos = i + 1
			return regexpMatch(f, b.String(), open)
		}
		b.WriteByte(c)
	}
	return nil, expected(open, `a closing "/"`, "the regular expression that starts here", endOfQuery)
}

// readValue reads one value (a phrase or a bare word) after the operator
// named by after.
func (p *qsParser) readValue(after string, inRange bool) (lit, *Error) {
	p.skipSpace()
	if p.eof() || strings.IndexByte(")]}", p.src[p.pos]) >= 0 || inRange && p.atWord("TO") {
		return lit{}, expected(p.pos, "a value", after, p.foundHere())
	}
	if p.src[p.pos] == '"' {
		return p.readPhrase()
	}
	v, _, err := p.readBare(false, inRange)
	return v, err
}

// readPhrase reads "a phrase"; a backslash escapes the next character.
func (p *qsParser) readPhrase() (lit, *Error) {
	start := p.pos
	var b strings.Builder
	for i := start + 1; i < len(p.src); i++ {
		c := p.src[i]
		switch {
		case c == '\\' && i+1 < len(p.src):
			i++
			b.WriteByte(p.src[i])
		case c == '"':
			p.pos = i + 1
			return lit{b.String(), start, true}, nil
		default:
			b.WriteByte(c)
		}
	}
	return lit{}, expected(start, `a closing "`, "the phrase that starts here", endOfQuery)
}

// readBare reads an unquoted word, up to a space, "(", ")", "^", "~", ":"
// (for a name), "]" or "}" (in a range). A backslash makes the next
// character literal; unescaped * and ? are wildcards, returned in the
// pattern.
func (p *qsParser) readBare(name, inRange bool) (lit, pattern, *Error) {
	start := p.pos
	var b strings.Builder
	var pat pattern
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			pat = append(pat, patElem{0, cur.String()})
			cur.Reset()
		}
	}
	i := start
loop:
	for ; i < len(p.src); i++ {
		c := p.src[i]
		switch {
		case c == '\\':
			if i+1 >= len(p.src) {
				return lit{}, nil, expected(i+1, "a character to escape", `"\"`, endOfQuery)
			}
			i++
			b.WriteByte(p.src[i])
			cur.WriteByte(p.src[i])
		case isSpace(c) || c == '(' || c == ')' || c == '^' || c == '~' || c == '"':
			break loop
		case name && c == ':':
			break loop
		case inRange && (c == ']' || c == '}'):
			break loop
		case c == '*' || c == '?':
			b.WriteByte(c)
			flush()
			pat = append(pat, patElem{c, ""})
		default:
			b.WriteByte(c)
			cur.WriteByte(c)
		}
	}
	flush()
	p.pos = i
	if i == start {
		return lit{}, nil, expected(start, "a term", "", p.foundHere())
	}
	return lit{b.String(), start, false}, pat.compact(), nil
}
