package tui

import (
	"fmt"
	"strings"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// The inbox's / searches the approvals themselves, not their runs: the
// index's full text over a run (input, history, status line) matched
// `director` on runs waiting on `manager`. A filter is words, all
// required, each matching (any case, anywhere in the text) the approval's
// name, description, approvers, workflow id or type; field:word narrows a
// word to one of them, -word excludes, "two words" is one word.

// approvalFields are the filter's field names, each with its value.
var approvalFields = []struct {
	names []string
	value func(r *approvalRow) string
}{
	{[]string{"approval", "name"}, func(r *approvalRow) string { return r.a.Name }},
	{[]string{"description", "desc"}, func(r *approvalRow) string { return r.a.Description }},
	{[]string{"approver", "approvers"}, func(r *approvalRow) string { return strings.Join(r.a.Approvers, " ") }},
	{[]string{"workflow", "workflow_id", "id"}, func(r *approvalRow) string { return r.wf }},
	{[]string{"type"}, func(r *approvalRow) string { return r.typ }},
}

// approvalTerm is one word of a filter: field is an index in
// approvalFields, -1 for any.
type approvalTerm struct {
	field int
	text  string // lower case
	neg   bool
}

// parseApprovalFilter reads a filter; a bad one is a bad_query APIError
// pointing at the offending word, as the index's errors do, so the query
// bar shows it the same way.
func parseApprovalFilter(q string) ([]approvalTerm, error) {
	var terms []approvalTerm
	bad := func(pos int, format string, args ...any) error {
		return &searchapi.APIError{Code: searchapi.CodeBadQuery, Pos: pos, Message: fmt.Sprintf(format, args...)}
	}
	for i := 0; i < len(q); {
		if q[i] == ' ' || q[i] == '\t' {
			i++
			continue
		}
		start := i
		t := approvalTerm{field: -1}
		if q[i] == '-' {
			t.neg = true
			i++
		}
		if j := strings.IndexAny(q[i:], ": \t\""); j > 0 && q[i+j] == ':' {
			name := strings.ToLower(q[i : i+j])
			t.field = approvalField(name)
			if t.field < 0 {
				return nil, bad(i, "the inbox searches approvals: %q is not one of approval, description, approver, workflow or type", q[i:i+j])
			}
			i += j + 1
		}
		if i < len(q) && q[i] == '"' {
			end := strings.IndexByte(q[i+1:], '"')
			if end < 0 {
				return nil, bad(i, "a phrase opened here is not closed (expected a closing \")")
			}
			t.text, i = q[i+1:i+1+end], i+end+2
		} else {
			j := i
			for j < len(q) && q[j] != ' ' && q[j] != '\t' {
				j++
			}
			t.text, i = q[i:j], j
		}
		if t.text == "" {
			return nil, bad(start, "expected a word to search the approvals for")
		}
		t.text = strings.ToLower(t.text)
		terms = append(terms, t)
	}
	return terms, nil
}

func approvalField(name string) int {
	for i, f := range approvalFields {
		for _, n := range f.names {
			if n == name {
				return i
			}
		}
	}
	return -1
}

// matchApproval tells whether r passes every term.
func matchApproval(terms []approvalTerm, r *approvalRow) bool {
	for _, t := range terms {
		hit := false
		for i, f := range approvalFields {
			if (t.field < 0 || t.field == i) && strings.Contains(strings.ToLower(f.value(r)), t.text) {
				hit = true
				break
			}
		}
		if hit == t.neg {
			return false
		}
	}
	return true
}
