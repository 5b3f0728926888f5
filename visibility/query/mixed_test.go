package query

import (
	"errors"
	"strings"
	"testing"
)

// TestMixedDialects: a condition of the other dialect inside a query is an
// error that points at it and says which dialect the query is in, instead
// of free-text terms that silently match nothing (issue 19, finding 6).
func TestMixedDialects(t *testing.T) {
	cases := []struct {
		q    string
		pos  int
		want string
	}{
		{`status:running AND WorkflowType = 'Order'`, 19, `WorkflowType with an operator is a list-filter condition in a query string`},
		{`status:running WorkflowType='Order'`, 15, `write WorkflowType:value`},
		{`type:Order ExecutionStatus != 'Running'`, 11, `ExecutionStatus with an operator`},
		{`type:Order -ExecutionStatus = 'Running'`, 12, `ExecutionStatus with an operator`},
		{`type:Order AND approvals IS NOT NULL`, 15, `approvals with an operator`},
		{`type:Order AND (status:failed OR CloseTime > now-1h)`, 33, `CloseTime with an operator`},
		{`status:running ORDER BY StartTime`, 15, `ORDER BY is list-filter syntax`},
		{`ExecutionStatus = 'Running' AND type:Order`, 32, `type:Order is a query-string term in a list filter (name = 'value'); write type = 'Order'`},
		{`ExecutionStatus = 'Running' type:Order`, 28, `write type = 'Order'`},
		{`WorkflowType = 'Order' AND -status:failed`, 27, `write status = 'failed'`},
	}
	for _, c := range cases {
		_, err := Parse(c.q, testSchema(), testNow)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: want an *Error, got %v", c.q, err)
			continue
		}
		if e.Pos != c.pos || !strings.Contains(e.Msg, c.want) || !strings.Contains(e.Msg, "mixes the two dialects") {
			t.Errorf("%q: got at %d %q, want at %d ...%q...", c.q, e.Pos, e.Msg, c.pos, c.want)
		}
	}
}

// TestMixedDialectsFreeText: what only looks like the other dialect stays
// what it was: free text and unknown names with "=", lower-case order by,
// quoted phrases, operators inside a field's value.
func TestMixedDialectsFreeText(t *testing.T) {
	for _, q := range []string{
		`status:running user=alice`,
		`status:running "WorkflowType = Order"`,
		`type:Order order by date`,
		`status:running card is declined`,
		`duration_ms:>5s type:Order`,
		`WorkflowType = 'Order' AND WorkflowId = 'a:b'`,
	} {
		if _, err := Parse(q, testSchema(), testNow); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}
