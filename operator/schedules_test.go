package operator

import (
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/auth"
)

// Schedule writes are the operator's and the admin's: a viewer, an
// approver or a worker is refused by the engine (reads need no action).
func TestScheduleActionsRoles(t *testing.T) {
	for _, name := range []string{engine.ActScheduleCreate, engine.ActScheduleUpdate, engine.ActSchedulePause, engine.ActScheduleUnpause,
		engine.ActScheduleTrigger, engine.ActScheduleBackfill, engine.ActScheduleDelete} {
		a, ok := Default.Lookup(name)
		if !ok {
			t.Fatalf("%s is not in the catalog", name)
		}
		for role, want := range map[auth.Role]bool{auth.Operator: true, auth.Admin: true, auth.Viewer: false, auth.Approver: false, auth.Worker: false} {
			if got := a.Permits(role, false); got != want {
				t.Errorf("%s by %s: permitted %v, want %v", name, role, got, want)
			}
		}
		if err := ReadOnly(Default, New(Default, nil)).Check(Request{Action: name}); err == nil {
			t.Errorf("%s passes read-only mode", name)
		}
	}
	if a, _ := Default.Lookup(engine.ActScheduleDelete); !a.Destructive {
		t.Error("deleting a schedule is not confirmed")
	}
}
