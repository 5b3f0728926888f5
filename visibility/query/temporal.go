package query

import (
	"strings"
	"time"
)

// The Temporal list-filter dialect:
//
//	WorkflowType = 'Order' AND ExecutionStatus = 'Running'
//	  AND StartTime > '2026-11-01T00:00:00Z' ORDER BY StartTime DESC
//
// See the package documentation for the grammar.

// maxDepth bounds nesting (parentheses, NOT chains) so a hostile query
// cannot exhaust the stack.
const maxDepth = 64

const operatorList = "an operator (=, !=, <, <=, >, >=, IN, NOT IN, BETWEEN, STARTS_WITH, LIKE, CONTAINS or IS NULL)"

type temporalParser struct {
	toks  []token
	i     int
	s     Schema
	now   time.Time
	depth int
}

// parseTemporal returns the filter (nil when there is none: match all) and
// the ORDER BY fields as bleve sort strings.
func parseTemporal(q string, s Schema, now time.Time) (*node, []string, *Error) {
	toks, err := lexTemporal(q)
	if err != nil {
		return nil, nil, err
	}
	p := &temporalParser{toks: toks, s: s, now: now}
	var n *node
	if !p.atOrderBy() && p.peek().kind != tEOF {
		if n, err = p.parseOr(); err != nil {
			return nil, nil, err
		}
	}
	var sort []string
	if p.atOrderBy() {
		if sort, err = p.parseOrderBy(); err != nil {
			return nil, nil, err
		}
	}
	if t := p.peek(); t.kind != tEOF {
		if e, mixed := mixedInTemporal(t.pos, t.text, s); mixed && t.kind == tWord {
			return nil, nil, e
		}
		return nil, nil, expected(t.pos, "AND, OR, ORDER BY or the end of the query", "", t.found())
	}
	return n, sort, nil
}

func (p *temporalParser) peek() token { return p.toks[p.i] }

func (p *temporalParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *temporalParser) prev() token { return p.toks[max(p.i-1, 0)] }

func (p *temporalParser) atOrderBy() bool {
	return p.peek().is("ORDER") && p.i+1 < len(p.toks) && p.toks[p.i+1].is("BY")
}

func (p *temporalParser) parseOr() (*node, *Error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	kids := []*node{left}
	for p.peek().is("OR") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	return or(kids...), nil
}

func (p *temporalParser) parseAnd() (*node, *Error) {
	left, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	kids := []*node{left}
	for p.peek().is("AND") {
		p.next()
		right, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	return and(kids...), nil
}

func (p *temporalParser) parseNot() (*node, *Error) {
	if !p.peek().is("NOT") {
		return p.parsePrimary()
	}
	p.next()
	if p.depth++; p.depth > maxDepth {
		return nil, failf(p.prev().pos, quoteFound("NOT"), "query nests too deeply (more than %d levels)", maxDepth)
	}
	defer func() { p.depth-- }()
	n, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return not(n), nil
}

// after names the previous token for "expected X after Y".
func (p *temporalParser) after() string {
	t := p.prev()
	switch t.kind {
	case tString:
		return quoteFound("'" + t.text + "'")
	case tName:
		return quoteFound("`" + t.text + "`")
	}
	return quoteFound(t.text)
}

func (p *temporalParser) parsePrimary() (*node, *Error) {
	t := p.peek()
	switch {
	case t.kind == tLParen:
		p.next()
		if p.depth++; p.depth > maxDepth {
			return nil, failf(t.pos, quoteFound("("), "query nests too deeply (more than %d levels)", maxDepth)
		}
		defer func() { p.depth-- }()
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, expected(c.pos, `")" to close the "(" at `+itoa(t.pos), "", c.found())
		}
		p.next()
		return n, nil
	case t.kind == tName || t.kind == tWord && !isReserved(t.text):
		return p.parseCondition()
	}
	what := "a condition (a field name, NOT or \"(\")"
	if p.i == 0 {
		return nil, expected(t.pos, what, "", t.found())
	}
	return nil, expected(t.pos, what, p.after(), t.found())
}

// reserved words cannot be bare field names or values; backquote or quote
// them.
func isReserved(w string) bool {
	switch strings.ToUpper(w) {
	case "AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "STARTS_WITH", "CONTAINS", "IS", "NULL":
		return true
	}
	return false
}

func (p *temporalParser) parseCondition() (*node, *Error) {
	nameTok := p.next()
	f, ok := p.s.Lookup(nameTok.text)
	if !ok {
		if e, mixed := mixedInTemporal(nameTok.pos, nameTok.text, p.s); mixed {
			return nil, e
		}
		return nil, unknownField(nameTok.pos, nameTok.text, p.s)
	}
	negated := false
	if p.peek().is("NOT") {
		p.next()
		if t := p.peek(); !(t.is("IN") || t.is("BETWEEN") || t.is("LIKE") || t.is("STARTS_WITH") || t.is("CONTAINS")) {
			return nil, expected(t.pos, "IN, BETWEEN, LIKE, STARTS_WITH or CONTAINS", `"NOT"`, t.found())
		}
		negated = true
	}
	n, err := p.parseOperator(f)
	if err != nil {
		return nil, err
	}
	if negated {
		n = not(n)
	}
	return n, nil
}

// parseOperator reads the operator after a field name and its operands.
func (p *temporalParser) parseOperator(f Field) (*node, *Error) {
	op := p.peek()
	switch {
	case op.kind == tOp:
		p.next()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		switch op.text {
		case "=":
			return eq(f, v, p.now)
		case "!=", "<>":
			n, err := eq(f, v, p.now)
			if err != nil {
				return nil, err
			}
			return not(n), nil
		}
		return cmp(f, op.text, op.pos, v, p.now)
	case op.is("IN"):
		p.next()
		return p.parseIn(f)
	case op.is("BETWEEN"):
		p.next()
		lo, err := p.value()
		if err != nil {
			return nil, err
		}
		if t := p.peek(); !t.is("AND") {
			return nil, expected(t.pos, "AND", p.after(), t.found())
		}
		p.next()
		hi, err := p.value()
		if err != nil {
			return nil, err
		}
		return rangeOf(f, "BETWEEN", op.pos, &lo, &hi, true, true, p.now)
	case op.is("STARTS_WITH"), op.is("LIKE"), op.is("CONTAINS"):
		p.next()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		switch {
		case op.is("STARTS_WITH"):
			return prefix(f, v, op.pos)
		case op.is("LIKE"):
			return like(f, v, op.pos, p.now)
		}
		return contains(f, v, op.pos, p.now)
	case op.is("IS"):
		p.next()
		neg := p.peek().is("NOT")
		if neg {
			p.next()
		}
		if t := p.peek(); !t.is("NULL") {
			return nil, expected(t.pos, "NULL", p.after(), t.found())
		}
		p.next()
		if neg {
			return exists(f), nil
		}
		return not(exists(f)), nil
	}
	return nil, expected(op.pos, operatorList, p.after(), op.found())
}

// value reads a literal: a quoted string, or a bare word (a number, true,
// false, now-24h, or an unquoted string).
func (p *temporalParser) value() (lit, *Error) {
	t := p.peek()
	switch {
	case t.kind == tString:
		p.next()
		return lit{t.text, t.pos, true}, nil
	case t.kind == tWord && !isReserved(t.text):
		p.next()
		return lit{t.text, t.pos, false}, nil
	}
	return lit{}, expected(t.pos, "a value", p.after(), t.found())
}

func (p *temporalParser) parseIn(f Field) (*node, *Error) {
	if t := p.peek(); t.kind != tLParen {
		return nil, expected(t.pos, `"(" and a list of values`, p.after(), t.found())
	}
	p.next()
	var kids []*node
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n, err := eq(f, v, p.now)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
		t := p.peek()
		if t.kind != tComma && t.kind != tRParen {
			return nil, expected(t.pos, `"," or ")"`, p.after(), t.found())
		}
		p.next()
		if t.kind == tRParen {
			return or(kids...), nil
		}
	}
}

func (p *temporalParser) parseOrderBy() ([]string, *Error) {
	p.next() // ORDER
	p.next() // BY
	var out []string
	for {
		t := p.peek()
		if t.kind != tName && (t.kind != tWord || isReserved(t.text)) {
			return nil, expected(t.pos, "a field name", p.after(), t.found())
		}
		p.next()
		desc := false
		if d := p.peek(); d.is("DESC") || d.is("ASC") {
			desc = d.is("DESC")
			p.next()
		}
		key, err := sortKey(t.text, desc, t.pos, p.s)
		if err != nil {
			return nil, err
		}
		out = append(out, key)
		if p.peek().kind != tComma {
			return out, nil
		}
		p.next()
	}
}
