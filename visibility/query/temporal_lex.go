package query

import (
	"strings"

	"github.com/foremanhq/foreman/visibility/query/dialect"
)

// Tokens of the Temporal list-filter dialect.
type tkind int

const (
	tEOF    tkind = iota + 1
	tLParen       // (
	tRParen       // )
	tComma        // ,
	tOp           // = != <> < <= > >=
	tString       // 'quoted' or "quoted"; text unescaped
	tName         // `backquoted name`
	tWord         // anything else up to a delimiter: names, keywords, numbers, now-24h
)

type token struct {
	kind tkind
	text string
	pos  int // byte offset of the first character (the quote for strings)
	end  int // byte offset after the token
}

// found renders the token for "found ..." in error messages.
func (t token) found() string {
	switch t.kind {
	case tEOF:
		return endOfQuery
	case tString:
		return quoteFound("'" + t.text + "'")
	case tName:
		return quoteFound("`" + t.text + "`")
	}
	return quoteFound(t.text)
}

// is reports whether t is the keyword kw (case-insensitive).
func (t token) is(kw string) bool { return t.kind == tWord && strings.EqualFold(t.text, kw) }

func isSpace(c byte) bool { return dialect.IsSpace(c) }

// isTemporalDelim ends a word.
func isTemporalDelim(c byte) bool {
	return isSpace(c) || strings.IndexByte("()=!<>,'\"`", c) >= 0
}

// lexTemporal splits q into tokens, ending with tEOF.
func lexTemporal(q string) ([]token, *Error) {
	var toks []token
	i := 0
	for {
		for i < len(q) && isSpace(q[i]) {
			i++
		}
		if i >= len(q) {
			toks = append(toks, token{kind: tEOF, pos: len(q), end: len(q)})
			return toks, nil
		}
		start := i
		switch c := q[i]; c {
		case '(':
			toks = append(toks, token{tLParen, "(", i, i + 1})
			i++
		case ')':
			toks = append(toks, token{tRParen, ")", i, i + 1})
			i++
		case ',':
			toks = append(toks, token{tComma, ",", i, i + 1})
			i++
		case '=':
			n := 1
			if i+1 < len(q) && q[i+1] == '=' { // == reads as =
				n = 2
			}
			toks = append(toks, token{tOp, "=", i, i + n})
			i += n
		case '!':
			if i+1 < len(q) && q[i+1] == '=' {
				toks = append(toks, token{tOp, "!=", i, i + 2})
				i += 2
				break
			}
			return nil, expected(i, `"!="`, "", quoteFound("!"))
		case '<', '>':
			op := string(c)
			if i+1 < len(q) && (q[i+1] == '=' || c == '<' && q[i+1] == '>') {
				op += string(q[i+1])
			}
			toks = append(toks, token{tOp, op, i, i + len(op)})
			i += len(op)
		case '\'', '"', '`':
			text, end, err := lexQuoted(q, i)
			if err != nil {
				return nil, err
			}
			kind := tString
			if c == '`' {
				kind = tName
			}
			toks = append(toks, token{kind, text, start, end})
			i = end
		default:
			for i < len(q) && !isTemporalDelim(q[i]) {
				i++
			}
			toks = append(toks, token{tWord, q[start:i], start, i})
		}
	}
}

// lexQuoted reads a string quoted by q[start]: the quote doubled or
// preceded by a backslash stands for itself, and \\ for one backslash. Any
// other backslash is kept, as in MySQL, so LIKE 'order\_1' reaches LIKE
// with its escape.
func lexQuoted(q string, start int) (string, int, *Error) {
	quote := q[start]
	var b strings.Builder
	for i := start + 1; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\\' && i+1 < len(q) && (q[i+1] == quote || q[i+1] == '\\'):
			i++
			b.WriteByte(q[i])
		case c == quote && i+1 < len(q) && q[i+1] == quote:
			i++
			b.WriteByte(quote)
		case c == quote:
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	what := "string"
	if quote == '`' {
		what = "name"
	}
	// The offending token is the unterminated one: point at its opening quote.
	return "", 0, expected(start, "a closing "+string(quote), "the "+what+" that starts here", endOfQuery)
}
