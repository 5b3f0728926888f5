// Package dialect tells Foreman's two search dialects apart: the bleve
// query string (status:running type:Order) and Temporal's list filter
// (ExecutionStatus = 'Running'). It is the one owner of that rule: the
// parser (package query) detects a query's dialect with it and finds
// list-filter conditions pasted into a query string, and the console uses
// it to write its presets (:failed, :approvals) in the operator's dialect.
// It has no dependency on bleve, so a client can import it.
package dialect

import (
	"strings"

	"github.com/foremanhq/foreman/visibility/fields"
)

// Known says whether a name is a field (nil: no name is known).
type Known func(name string) bool

// IsTemporal reports whether q is a Temporal list filter. The rule is
// syntactic and looks only at the start of the query:
//
//  1. Skip spaces, opening parentheses and the word NOT.
//  2. ORDER BY there means Temporal.
//  3. Read a name: a `backquoted name`, or letters, digits, "_" and ".".
//  4. Temporal when the name is followed (spaces allowed) by =, !=, <>, <,
//     <=, > or >=; or by one of the words IN, NOT, BETWEEN, STARTS_WITH,
//     LIKE, CONTAINS or IS, when that word is in upper case or the name is
//     backquoted or a known field.
//  5. Anything else is the query string.
func IsTemporal(q string, known Known) bool {
	i := 0
	for {
		for i < len(q) && IsSpace(q[i]) {
			i++
		}
		if i < len(q) && q[i] == '(' {
			i++
			continue
		}
		if w := WordAt(q, i); strings.EqualFold(w, "NOT") && i+3 < len(q) && (IsSpace(q[i+3]) || q[i+3] == '(') {
			i += 3
			continue
		}
		break
	}
	if orderByAt(q, i, false) {
		return true
	}
	_, ok := ConditionAt(q, i, known)
	return ok
}

// ConditionAt reports whether a list-filter condition starts at q[i:]: a
// name followed by a comparison operator or a list-filter keyword (rule 4
// of IsTemporal), or ORDER BY in upper case. name is the field name (or
// "ORDER BY"). Inside a query string such a condition was meant in the
// other dialect: the query string would search it as free text.
func ConditionAt(q string, i int, known Known) (name string, ok bool) {
	if orderByAt(q, i, true) {
		return "ORDER BY", true
	}
	backquoted := false
	if i < len(q) && q[i] == '`' {
		end := strings.IndexByte(q[i+1:], '`')
		if end < 0 {
			return "", false
		}
		name, backquoted = q[i+1:i+1+end], true
		i += end + 2
	} else {
		name = WordAt(q, i)
		i += len(name)
	}
	if name == "" {
		return "", false
	}
	spaced := i < len(q) && IsSpace(q[i])
	for i < len(q) && IsSpace(q[i]) {
		i++
	}
	if i >= len(q) {
		return "", false
	}
	switch q[i] {
	case '=', '<', '>':
		return name, true
	case '!':
		if i+1 < len(q) && q[i+1] == '=' {
			return name, true
		}
	}
	if !spaced {
		return "", false
	}
	w := WordAt(q, i)
	switch strings.ToUpper(w) {
	case "IN", "NOT", "BETWEEN", "STARTS_WITH", "LIKE", "CONTAINS", "IS":
		if w == strings.ToUpper(w) || backquoted || known != nil && known(name) {
			return name, true
		}
	}
	return "", false
}

// orderByAt reports ORDER BY at q[i:]; upper requires upper case (inside a
// query string, where lower-case words are search terms).
func orderByAt(q string, i int, upper bool) bool {
	w := WordAt(q, i)
	if !strings.EqualFold(w, "ORDER") || upper && w != "ORDER" {
		return false
	}
	j := i + 5
	for j < len(q) && IsSpace(q[j]) {
		j++
	}
	by := WordAt(q, j)
	return j > i+5 && strings.EqualFold(by, "BY") && (!upper || by == "BY")
}

// WordAt returns the run of letters, digits, "_" and "." at q[i:].
func WordAt(q string, i int) string {
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

// IsSpace is the white space both dialects skip.
func IsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// Fold is the key field names are matched by: ASCII lower case, underscores
// dropped (WorkflowID, workflow_id and workflowId are one name).
func Fold(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// builtinNames are the folded names and aliases of the built-in fields.
var builtinNames = func() map[string]bool {
	out := map[string]bool{}
	for _, f := range fields.Builtin {
		out[Fold(f.Name)] = true
		for _, a := range f.Aliases {
			out[Fold(a)] = true
		}
	}
	return out
}()

// Builtin knows the built-in fields, for clients without the engine's
// schema (custom attributes): the console writing its presets.
func Builtin(name string) bool { return builtinNames[Fold(name)] }
