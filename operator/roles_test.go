package operator_test

import (
	"testing"

	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/operator"
)

// The roles of issue 16, as the catalog declares them: the engine checks
// every request against this.
func TestCatalogRoles(t *testing.T) {
	allowed := map[auth.Role][]string{
		auth.Viewer:   nil,
		auth.Worker:   nil,
		auth.Approver: {operator.ActApprove, operator.ActReject},
	}
	for _, a := range operator.Default.Actions() {
		for _, r := range []auth.Role{auth.Operator, auth.Admin} {
			if !a.Permits(r, false) {
				t.Errorf("%s may not %s", r, a.Name)
			}
		}
		for r, names := range allowed {
			want := false
			for _, n := range names {
				want = want || n == a.Name
			}
			if got := a.Permits(r, false); got != want {
				t.Errorf("%s may %s: %v, want %v", r, a.Name, got, want)
			}
		}
		if a.DryRuns && !a.Permits(auth.Viewer, true) {
			t.Errorf("a viewer may not preview %s", a.Name)
		}
		if a.Permits(auth.Worker, true) {
			t.Errorf("a worker may preview %s", a.Name)
		}
	}
}
