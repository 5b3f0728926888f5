package dialect

import "testing"

func TestIsTemporal(t *testing.T) {
	cases := map[string]bool{
		`ExecutionStatus = 'Running'`:   true,
		`(NOT WorkflowId != 'x')`:       true,
		`order by StartTime`:            true,
		"`my field` in ('a')":           true,
		`status in ('failed')`:          true, // a known field: any case
		`card is declined`:              false,
		`status:running`:                false,
		`"card declined"`:               false,
		`WorkflowType`:                  false,
		`-type:Order`:                   false,
		`CloseTime IS NULL`:             true,
		`customer_id in ('a')`:          false, // not a built-in field, lower case
		`status:running ORDER BY x`:     false, // the start decides
		`  (  WorkflowType STARTS_WITH`: true,
	}
	for q, want := range cases {
		if got := IsTemporal(q, Builtin); got != want {
			t.Errorf("IsTemporal(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestConditionAt(t *testing.T) {
	q := `type:Order WorkflowType='A' ORDER BY x order by y`
	for _, c := range []struct {
		i    int
		name string
	}{{0, ""}, {11, "WorkflowType"}, {28, "ORDER BY"}, {39, ""}} {
		name, ok := ConditionAt(q, c.i, Builtin)
		if name != c.name || ok != (c.name != "") {
			t.Errorf("ConditionAt(%d) = %q %v, want %q", c.i, name, ok, c.name)
		}
	}
}
