package examples_test

import (
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

// Run `go test ./examples -run TestReplayRecordedHistories -record` to
// record the histories again (then commit them): after a change to an
// example that is meant to be incompatible with running executions.
var record = flag.Bool("record", false, "record the example histories under testdata/histories instead of replaying them")

const historyDir = "testdata/histories"

// recorded are the runs whose histories are kept under testdata: each
// example, taking its interesting paths (approvals, timeouts, retries,
// compensations, heartbeats), on the test clock.
var recorded = []struct {
	name  string
	queue string
	wf    any
	input any
	// drive acts on the run while it goes (at chosen workflow times)
	drive func(e *env, run engine.Run)
}{
	{name: "order-approved", queue: examples.OrderQueue, wf: examples.OrderFulfillment,
		input: examples.OrderInput{OrderID: "O-1001", Amount: 2500},
		drive: decideAt(2*time.Hour, "manager", true)},
	{name: "order-charge-declined", queue: examples.OrderQueue, wf: examples.OrderFulfillment,
		input: examples.OrderInput{OrderID: "O-1002", Amount: 80, FailAt: "charge"}},
	{name: "expense-escalated", queue: examples.ExpenseQueue, wf: examples.ExpenseApproval,
		input: examples.ExpenseInput{ExpenseID: "E-7", Amount: 2500, Submitter: "bob"},
		drive: decideAt(80*time.Hour, "director", true)}, // the manager's 72 h pass first
	{name: "subscription-renewals", queue: examples.BillingQueue, wf: examples.SubscriptionRenewal,
		input: examples.SubscriptionInput{SubscriptionID: "S-1", Customer: "chen", Amount: 9.99, MaxRenewals: 3}},
	{name: "ingestion-resumed", queue: examples.IngestQueue, wf: examples.DocumentIngestion,
		input: examples.IngestInput{DocID: "D-1", Pages: 12, ChunkPages: 6, PageTime: examples.Duration(2 * time.Millisecond), FlakyAttempts: 1, CrashAtPage: 9}},
}

func decideAt(after time.Duration, approval string, approved bool) func(*env, engine.Run) {
	return func(e *env, run engine.Run) {
		e.clock.AfterFunc(after, func() {
			if err := e.client.Decide(e.ctx, run.WorkflowID, run.RunID, approval, approved, "recorded"); err != nil {
				panic(err)
			}
		})
	}
}

func historyFile(name string) string { return filepath.Join(historyDir, name+".json") }

// The recorded histories of the examples replay against today's code: a
// change to an example that running executions could not survive fails
// here, before it is deployed.
func TestReplayRecordedHistories(t *testing.T) {
	if *record {
		recordHistories(t)
	}
	r := engine.NewWorkflowReplayer()
	for _, wf := range []any{examples.OrderFulfillment, examples.ExpenseApproval, examples.DocumentIngestion, examples.SubscriptionRenewal} {
		if err := r.RegisterWorkflow(wf); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob("testdata/histories/*.json")
	for _, file := range files {
		if err := r.ReplayWorkflowHistoryFromJSONFile(file); err != nil {
			t.Error(err)
		}
	}
	if len(files) < len(recorded) {
		t.Fatalf("%d histories under %s, want at least %d", len(files), historyDir, len(recorded))
	}
}

func recordHistories(t *testing.T) {
	e := newClockEnv(t)
	for _, rec := range recorded {
		run := e.clock.StartWithOptions(engine.StartOptions{ID: rec.name, TaskQueue: rec.queue}, rec.wf, rec.input)
		if rec.drive != nil {
			rec.drive(e, run)
		}
		if err := e.clock.Result(run, nil); err != nil && !strings.Contains(rec.name, "declined") {
			t.Fatalf("%s: %v", rec.name, err)
		}
		e.clock.RecordHistory(run, historyFile(rec.name))
	}
}

// reorderedOrder is OrderFulfillment changed under running executions:
// it charges before it reserves.
func reorderedOrder(ctx engine.Context, in examples.OrderInput) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	if err := engine.UpsertSearchAttributes(ctx, map[string]engine.SearchAttribute{
		"OrderID": engine.Keyword(in.OrderID), "Amount": engine.Float(in.Amount),
	}); err != nil {
		return "", err
	}
	engine.SetStatus(ctx, "charging payment")
	if err := engine.ExecuteActivity(ctx, examples.ChargePayment, in).Get(ctx, nil); err != nil {
		return "", err
	}
	engine.SetStatus(ctx, "reserving inventory")
	return "", engine.ExecuteActivity(ctx, examples.ReserveInventory, in).Get(ctx, nil)
}

// Reordering activities is reported as non-determinism, with the engine's
// code and the event where the code and its history part.
func TestReplayReportsReorderedActivities(t *testing.T) {
	r := engine.NewWorkflowReplayer()
	if err := r.RegisterWorkflowWithName(engine.FuncName(examples.OrderFulfillment), reorderedOrder); err != nil {
		t.Fatal(err)
	}
	err := r.ReplayWorkflowHistoryFromJSONFile(historyFile("order-approved"))
	var re *engine.ReplayError
	var nd *engine.NonDeterminismError
	if !errors.As(err, &re) || re.Code != engine.CodeNonDeterminism || !errors.As(err, &nd) {
		t.Fatalf("want a %s replay error, got %v", engine.CodeNonDeterminism, err)
	}
	if !strings.Contains(nd.Expected, "ActivityScheduled(ReserveInventory") || !strings.Contains(nd.Got, "ChargePayment") {
		t.Fatalf("the error does not name the reordered activities: %v", err)
	}
	if re.WorkflowID != "order-approved" || !strings.Contains(err.Error(), "[FM1001]") {
		t.Fatalf("error %v", err)
	}
}

// A run exported from a real engine (`foreman export exp-fail >
// testdata/histories/order-declined.export.jsonl`: an order whose charge
// was declined and whose saga compensated) replays against today's code:
// how a production history becomes a regression test.
func TestReplayExportedHistory(t *testing.T) {
	const file = "testdata/histories/order-declined.export.jsonl"
	r := engine.NewWorkflowReplayer()
	if err := r.RegisterWorkflow(examples.OrderFulfillment); err != nil {
		t.Fatal(err)
	}
	if err := r.ReplayWorkflowHistoryFromJSONFile(file); err != nil {
		t.Fatal(err)
	}
	// and the replayer did read the export (the reordered code fails it)
	changed := engine.NewWorkflowReplayer()
	if err := changed.RegisterWorkflowWithName(engine.FuncName(examples.OrderFulfillment), reorderedOrder); err != nil {
		t.Fatal(err)
	}
	var nd *engine.NonDeterminismError
	if err := changed.ReplayWorkflowHistoryFromJSONFile(file); !errors.As(err, &nd) {
		t.Fatalf("reordered code replaying the export: want non-determinism, got %v", err)
	}
}
