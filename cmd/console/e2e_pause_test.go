package main_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// findRuns lists query's matches, waiting until id is among them (the
// index follows history asynchronously).
func (e *engineProc) waitListed(t *testing.T, query, id string) searchapi.Doc {
	t.Helper()
	var found searchapi.Doc
	waitFor(t, id+" listed by "+query, 20*time.Second, func() (bool, string) {
		docs := jsonOut[[]searchapi.Doc](t, e.ok(t, "auditor", "list", query, "-o", "json"))
		for _, d := range docs {
			if d.WorkflowID == id {
				found = d
				return true, ""
			}
		}
		return false, jsonString(docs)
	})
	return found
}

// pause and unpause through the CLI: who, when and why are recorded and
// searchable; an approval decided while paused takes effect on resume; a
// viewer may not pause.
func TestPauseUnpauseCLI(t *testing.T) {
	e := sharedEngine(t)
	s := startOrder(t, e, "carol", "cli-pause", 5000)
	e.waitApproval(t, s.WorkflowID, "manager")
	e.ok(t, "ops", "pause", s.WorkflowID, "--reason", "card processor incident")
	e.fails(t, "ops", 4, "paused already", "pause", s.WorkflowID)
	x := e.describe(t, s.WorkflowID)
	if x.Paused == nil || x.Paused.By != "ops" || x.Paused.Reason != "card processor incident" {
		t.Fatalf("paused = %+v", x.Paused)
	}
	if out := e.ok(t, "auditor", "show", s.WorkflowID).stdout; !strings.Contains(out, "paused by ops since") {
		t.Fatalf("show does not say who paused the run:\n%s", out)
	}
	d := e.waitListed(t, "paused:true paused_by:ops waiting_on:paused", s.WorkflowID)
	if d.Paused == nil || d.Status != engine.StatusRunning {
		t.Fatalf("listed as %+v", d)
	}
	// a viewer is refused, and may dry-run the batch
	creds := filepath.Join(e.data, "e2e-vera.nk")
	if out, err := exec.Command(filepath.Join(binDir, "foreman-engine"), "users", "add", "vera", "--role", "viewer", "-o", creds, "--nats", e.url).CombinedOutput(); err != nil {
		t.Fatalf("users add vera: %v\n%s", err, out)
	}
	e.fails(t, "vera", 4, "refused", "--creds", creds, "unpause", s.WorkflowID)
	e.ok(t, "vera", "--creds", creds, "unpause", "-q", "paused:true", "--dry-run")

	e.ok(t, "ops", "approve", s.WorkflowID, "manager")
	time.Sleep(500 * time.Millisecond)
	if x := e.describe(t, s.WorkflowID); x.Status != engine.StatusRunning || x.Paused == nil {
		t.Fatalf("a paused run moved on: %s %+v", x.Status, x.Paused)
	}
	// resumed by a batch over a query (the run is the only match)
	e.ok(t, "ops", "unpause", "-q", "paused:true workflow_id:cli-pause", "--reason", "incident over", "--yes")
	if x := e.waitClosed(t, s.WorkflowID); x.Status != engine.StatusCompleted {
		t.Fatalf("after unpause: %s %v", x.Status, x.Failure)
	}
}

// A dead letter through the CLI: the order's charge runs out of attempts
// and pauses the run; one query finds it by activity, error type and
// attempts; an activity retry by an operator completes it, recorded with
// the principal.
func TestDeadLetterRetryCLI(t *testing.T) {
	e := sharedEngine(t)
	in, _ := json.Marshal(map[string]any{"order_id": "dl", "amount": 80, "fail_at": "gateway"})
	e.ok(t, "carol", "start", "OrderFulfillment", "--queue", "orders", "--id", "cli-dead", "--input", string(in))
	d := e.waitListed(t, "dead_lettered:true activities:ChargePayment last_error_type:GatewayTimeout attempts:>2", "cli-dead")
	if d.Paused == nil || !d.Paused.DeadLetter || d.WaitingOn != "paused" || d.Attempts != 4 {
		t.Fatalf("dead letter listed as %s", jsonString(d))
	}
	e.fails(t, "ops", 3, "no such pending activity", "activity", "retry", "cli-dead", "--activity", "Ship")
	out := e.ok(t, "ops", "activity", "retry", "cli-dead", "--activity", "ChargePayment", "--reason", "gateway back").stdout
	if !strings.Contains(out, "activity retry ChargePayment") {
		t.Fatalf("retry printed %q", out)
	}
	if x := e.waitClosed(t, "cli-dead"); x.Status != engine.StatusCompleted {
		t.Fatalf("after the retry: %s %v", x.Status, x.Failure)
	}
	ops := eventsOf[engine.ActivityOperation](e.historyOf(t, "cli-dead"))
	if len(ops) < 1 || ops[0].Op != engine.ActivityOpRetry || ops[0].Identity != "ops" || ops[0].Reason != "gateway back" {
		t.Fatalf("operations recorded: %s", jsonString(ops))
	}
}
