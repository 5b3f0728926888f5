package main_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Runs exported from one engine and imported into another (its own data
// directory and example workers) are found there by search as imported,
// have the same histories (plus the import's own mark), refuse every write,
// are never run by a worker there; the history filters select what they
// say; and the replayer reads the export file.
func TestExportImportBetweenEngines(t *testing.T) {
	src, dst := sharedEngine(t), startEngine(t)
	startOrder(t, src, "carol", "exp-wait", 5000)
	src.ok(t, "carol", "start", "OrderFulfillment", "--queue", "orders", "--id", "exp-fail",
		"--input", `{"order_id":"exp-fail","amount":80,"fail_at":"charge"}`)
	src.waitApproval(t, "exp-wait", "manager")
	failed := src.waitClosed(t, "exp-fail") // failed, and compensated by its own saga
	if failed.CloseStatus != engine.StatusFailed {
		t.Fatalf("exp-fail closed %s", failed.CloseStatus)
	}
	waitFor(t, "the source index to see both runs", 20*time.Second, func() (bool, string) {
		r := src.fm(t, "ops", nil, "count", "workflow_id:exp-*")
		return strings.TrimSpace(r.stdout) == "2", r.String()
	})

	exp := src.ok(t, "ops", "export", "-q", "workflow_id:exp-*")
	lines := jsonLines[engine.ExportedRun](t, exp.stdout)
	if len(lines) != 2 || lines[0].Format != engine.ExportFormat || !strings.Contains(exp.stderr, "exported 2 runs") {
		t.Fatalf("export -q: %d lines\n%s", len(lines), exp)
	}
	one := jsonLines[engine.ExportedRun](t, src.ok(t, "ops", "export", "exp-fail").stdout)
	if len(one) != 1 || one[0].Run.Status != failed.Status || one[0].Source != src.url {
		t.Fatalf("export exp-fail: %+v", one)
	}
	dst.fails(t, "ops", 4, "read-only", "import", "-", "--read-only")
	imp := dst.fm(t, "ops", strings.NewReader(exp.stdout), "import", "-")
	if imp.code != 0 || !strings.Contains(imp.stderr, "imported 2 runs") {
		t.Fatalf("import: %s", imp)
	}
	waitFor(t, "the imported runs in the second engine's index", 20*time.Second, func() (bool, string) {
		r := dst.fm(t, "ops", nil, "list", "imported:true", "--sort", "workflow_id", "-o", "json")
		docs := jsonOut[[]searchapi.Doc](t, r)
		return len(docs) == 2 && docs[0].WorkflowID == "exp-fail" && docs[0].Imported && docs[0].Status == failed.Status &&
			docs[1].WorkflowID == "exp-wait" && docs[1].Status == engine.StatusRunning && docs[1].WaitingOn == "approval", r.stdout
	})
	for _, id := range []string{"exp-fail", "exp-wait"} {
		want, got := src.historyOf(t, id), dst.historyOf(t, id)
		if len(got) != len(want)+1 || jsonString(got[:len(want)]) != jsonString(want) {
			t.Fatalf("%s: imported history differs\nsource: %s\nimported: %s", id, jsonString(want), jsonString(got))
		}
		if a, ok := got[len(want)].Attrs.(*engine.RunImported); !ok || a.Source != src.url || a.Identity != "ops" {
			t.Fatalf("%s: the last event is not the import's mark: %s", id, jsonString(got[len(want)]))
		}
	}
	show := dst.ok(t, "ops", "show", "exp-wait", "-o", "json").stdout
	if !strings.Contains(show, `"imported":`) {
		t.Fatalf("show of an imported run does not say so: %s", show)
	}
	if show := dst.ok(t, "ops", "show", "exp-wait").stdout; !strings.Contains(show, "read-only copy from "+src.url) {
		t.Fatalf("show of an imported run does not say so: %s", show)
	}

	for _, args := range [][]string{
		{"signal", "exp-wait", "payment-confirmed"},
		{"approve", "exp-wait", "manager"},
		{"cancel", "exp-wait", "--yes"},
		{"terminate", "exp-wait", "--reason", "x", "--yes"},
		{"reset", "exp-fail", "--yes"},
		{"compensate", "exp-fail", "--yes"},
	} {
		dst.fails(t, "ops", 4, "imported read-only copy", args...)
	}

	// A run started after the import has been dispatched and has run:
	// the dispatcher passed the imported batches, and no worker of this
	// engine (it runs OrderFulfillment too) touched the imported runs.
	startOrder(t, dst, "carol", "exp-after", 5000)
	dst.waitApproval(t, "exp-after", "manager")
	if n, want := len(dst.historyOf(t, "exp-wait")), len(src.historyOf(t, "exp-wait"))+1; n != want {
		t.Fatalf("the imported exp-wait has %d events, want %d: something ran it", n, want)
	}

	// The history filters.
	fails := dst.historyOf(t, "exp-fail", "--failures")
	for _, e := range fails {
		if !e.Type.RecordsFailure() {
			t.Fatalf("--failures printed a %s", e.Type)
		}
	}
	if len(fails) == 0 || fails[len(fails)-1].Type != engine.EventWorkflowFailed {
		t.Fatalf("--failures: %s", jsonString(fails))
	}
	for _, e := range dst.historyOf(t, "exp-fail", "--type", "activity", "--compact") {
		if !strings.HasPrefix(string(e.Type), "Activity") {
			t.Fatalf("--type activity printed a %s", e.Type)
		}
	}
	dst.fails(t, "ops", 2, `no event type contains "actvity"`, "history", "exp-fail", "--type", "actvity")

	// The replayer takes the export file against the examples' code.
	r := engine.NewWorkflowReplayer()
	if err := r.RegisterWorkflow(examples.OrderFulfillment); err != nil {
		t.Fatal(err)
	}
	file := t.TempDir() + "/orders.jsonl"
	if err := os.WriteFile(file, []byte(exp.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.ReplayWorkflowHistoryFromJSONFile(file); err != nil {
		t.Fatalf("replaying the export file: %v", err)
	}
}
