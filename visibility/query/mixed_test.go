package query

import "testing"

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
