package e2e_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// An update sent from the real console, in tmux: on a waiting expense, u
// opens the update dialog; the validator's refusal shows inline and leaves
// history unchanged; a valid amendment shows its result in the dialog, and
// history records it with who sent it.
func TestConsoleUpdate(t *testing.T) {
	e := startEngine(t, "--examples")
	if _, stderr, code := e.foreman(t, "starter", "start", "ExpenseApproval", "--id", "exp-upd-1", "--queue", "approvals",
		"--input", `{"expense_id":"upd-1","amount":3000,"submitter":"bob"}`); code != 0 {
		t.Fatalf("start: exit %d: %s", code, stderr)
	}
	var x engine.Execution
	deadline := time.Now().Add(20 * time.Second)
	for len(x.Approvals) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("exp-upd-1 never asked for approval: %+v", x)
		}
		time.Sleep(100 * time.Millisecond)
		e.mustJSON(t, &x, "show", "exp-upd-1", "-o", "json")
	}
	before := x.HistoryLength

	s := newScreen(t, 120, 40, []string{"FOREMAN_NATS=" + e.url, "FOREMAN_IDENTITY=alice", "TERM=xterm-256color", "HOME=" + t.TempDir()},
		filepath.Join(bin, "foreman"))
	s.waitText(20*time.Second, "foreman as alice", "exp-upd-1")
	s.keys("/", "C-u", "workflow_id:exp-upd-1", "Enter")
	s.waitText(10*time.Second, "exp-upd-1")
	s.keys("Enter")
	s.waitText(10*time.Second, "exp-upd-1", "manager")
	s.keys("u")
	s.waitText(10*time.Second, "Update name", "Input (JSON)", "handles: amend")
	s.keys("am", "Tab", "Enter", `"amount": 300`, "C-s")
	s.waitText(10*time.Second, "update rejected", "under the auto-approval limit")
	e.mustJSON(t, &x, "show", "exp-upd-1", "-o", "json")
	if x.HistoryLength != before || len(x.Updates) != 0 {
		t.Fatalf("a rejected update changed history: %d -> %d events, updates %+v", before, x.HistoryLength, x.Updates)
	}
	s.keys("BSpace", "BSpace", "BSpace", "2500", "C-s")
	s.waitText(10*time.Second, "Result (completed", `"amount": 2500`, `"previous": 3000`)

	e.mustJSON(t, &x, "show", "exp-upd-1", "-o", "json")
	var amended struct{ Amount float64 }
	if len(x.Updates) != 1 || !x.Updates[0].Completed || x.Updates[0].Name != "amend" || x.Updates[0].Identity != jetstream.LocalUser() ||
		json.Unmarshal(x.Updates[0].Result, &amended) != nil || amended.Amount != 2500 {
		t.Fatalf("updates recorded: %+v", x.Updates)
	}
	var events []engine.Event
	e.mustJSON(t, &events, "history", "exp-upd-1", "-o", "json")
	for _, ev := range events {
		if a, ok := ev.Attrs.(*engine.UpdateAccepted); ok && a.OnBehalfOf != "alice" {
			t.Fatalf("update recorded on behalf of %q, want alice", a.OnBehalfOf)
		}
	}
	s.keys("Escape")
	s.keys("q")
}
