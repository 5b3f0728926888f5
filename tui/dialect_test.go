package tui

import "testing"

// TestPresetCombineDialect: presets join the operator's query in its own
// dialect, decided by the index's rule (package dialect): a lower-case
// keyword after a known field is a list filter there too.
func TestPresetCombineDialect(t *testing.T) {
	p := preset{"status:failed", "ExecutionStatus = 'Failed'"}
	cases := map[string]string{
		`type:Order`:                         `status:failed (type:Order)`,
		`type in ('Order')`:                  `ExecutionStatus = 'Failed' AND (type in ('Order'))`,
		`WorkflowType = 'A' ORDER BY Status`: `ExecutionStatus = 'Failed' AND (WorkflowType = 'A') ORDER BY Status`,
	}
	for q, want := range cases {
		if got, _ := p.combine(q); got != want {
			t.Errorf("combine(%q) = %q, want %q", q, got, want)
		}
	}
}
