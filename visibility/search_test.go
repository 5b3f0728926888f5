package visibility_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/visibility"
)

// The query language over a real index: real runs on an engine worker
// (embedded JetStream), indexed from their histories by the indexer, then
// searched through Index.Search in both dialects.

// qlScenario drives qlOrder into the state a run of the table needs.
type qlScenario struct {
	Customer string  `json:"customer,omitempty"`
	Region   string  `json:"region,omitempty"`
	Amount   float64 `json:"amount,omitempty"`
	Vip      *bool   `json:"vip,omitempty"`
	Note     string  `json:"note,omitempty"`
	// DeclineType and Decline make the Charge activity fail for good.
	DeclineType string `json:"decline_type,omitempty"`
	Decline     string `json:"decline,omitempty"`
	// Approval makes the run wait for that approval after charging.
	Approval string `json:"approval,omitempty"`
	// Signal makes the run wait for that signal; its payload's ref ends up
	// in the result.
	Signal string `json:"signal,omitempty"`
}

// qlOrder is registered as Order, Payment and Refund.
func qlOrder(ctx engine.Context, in qlScenario) (string, error) {
	attrs := map[string]engine.SearchAttribute{}
	if in.Customer != "" {
		attrs["CustomerId"] = engine.Keyword(in.Customer)
	}
	if in.Region != "" {
		attrs["Region"] = engine.Keyword(in.Region)
	}
	if in.Amount != 0 {
		attrs["Amount"] = engine.Float(in.Amount)
	}
	if in.Vip != nil {
		attrs["Vip"] = engine.Bool(*in.Vip)
	}
	if in.Note != "" {
		attrs["Notes"] = engine.Text(in.Note)
	}
	if len(attrs) > 0 {
		if err := engine.UpsertSearchAttributes(ctx, attrs); err != nil {
			return "", err
		}
	}
	engine.SetStatus(ctx, "charging card")
	actx := engine.WithActivityOptions(ctx, engine.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &engine.RetryPolicy{MaximumAttempts: 1},
	})
	if err := engine.ExecuteActivity(actx, "Charge", in).Get(ctx, nil); err != nil {
		return "", err
	}
	if in.Approval != "" {
		engine.SetStatus(ctx, "waiting for "+in.Approval+" approval")
		d, err := engine.AwaitApproval(ctx, in.Approval, engine.ApprovalOptions{Description: "amount " + fmt.Sprint(in.Amount)})
		if err != nil {
			return "", err
		}
		if !d.Approved {
			return "rejected", nil
		}
	}
	if in.Signal != "" {
		engine.SetStatus(ctx, "waiting for "+in.Signal)
		var payload struct {
			Ref string `json:"ref"`
		}
		engine.GetSignalChannel(ctx, in.Signal).Receive(ctx, &payload)
		engine.SetStatus(ctx, "done")
		return "confirmed " + payload.Ref, nil
	}
	engine.SetStatus(ctx, "done")
	return "shipped for " + in.Customer, nil
}

func qlCharge(_ context.Context, in qlScenario) (string, error) {
	if in.Decline != "" {
		return "", engine.NewApplicationError(in.DeclineType, in.Decline, true)
	}
	return "charged", nil
}

// qlRun is one run of the table and the state it is left in.
type qlRun struct {
	id, typ, queue string
	in             qlScenario
	// then: "" (runs to its end or to its wait), "signal" (payload
	// {"ref": ref} by bob), "terminate" (by carol), "approve" (by carol).
	then, ref string
}

func qlTrue() *bool  { b := true; return &b }
func qlFalse() *bool { b := false; return &b }

// The runs, started in two phases around the instant mid.
var (
	qlPhase1 = []qlRun{
		{id: "order-1", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-1", Region: "eu", Amount: 20, Vip: qlFalse()}},
		{id: "order-2", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-2", Region: "us", Amount: 2000, Vip: qlTrue()}},
		{id: "order-3", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-3", Region: "eu", Amount: 50, DeclineType: "CardDeclined", Decline: "card declined by issuer"}},
		{id: "order-4", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-1", Region: "us", Amount: 75, DeclineType: "CardDeclined", Decline: "card declined: expired"}},
		{id: "order-5", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-4", Region: "eu", Amount: 10, DeclineType: "InsufficientFunds", Decline: "insufficient funds"}},
		{id: "order-6", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-2", Region: "us", Amount: 5000, Vip: qlTrue(), Approval: "manager"}},
		{id: "pay-3", typ: "Payment", queue: "payments", in: qlScenario{Customer: "c-5", Region: "eu", Amount: 300, Approval: "finance"}},
		{id: "order-8", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-6", Region: "eu", Amount: 30, Signal: "payment-confirmed"}},
		{id: "order-9", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-7", Region: "us", Amount: 40, Signal: "payment-confirmed"}, then: "signal", ref: "A-7"},
		{id: "order-10", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-8", Region: "eu", Amount: 60, Signal: "payment-confirmed"}, then: "terminate"},
	}
	qlPhase2 = []qlRun{
		{id: "order-42", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-42", Region: "us", Amount: 420}},
		{id: "order-420", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-42", Region: "us", Amount: 4200, Approval: "manager"}},
		{id: "pay-1", typ: "Payment", queue: "payments", in: qlScenario{Customer: "c-1", Region: "eu", Amount: 25}},
		{id: "pay-2", typ: "Payment", queue: "payments", in: qlScenario{Customer: "c-3", Region: "eu", Amount: 50, DeclineType: "CardDeclined", Decline: "card declined by issuer"}},
		{id: "pay-42-x", typ: "Payment", queue: "payments", in: qlScenario{Customer: "c-9", Region: "us", Amount: 15}},
		{id: "pay-5", typ: "Payment", queue: "payments", in: qlScenario{Customer: "c-9", Region: "us", Amount: 16, Signal: "payment-confirmed"}, then: "terminate"},
		{id: "refund-1", typ: "Refund", queue: "orders", in: qlScenario{Customer: "c-1", Note: "customer called back about the parcel"}},
		{id: "refund-2", typ: "Refund", queue: "orders", in: qlScenario{Customer: "c-2", Note: "damaged in transit", Approval: "manager"}},
		{id: "x-42-y", typ: "Refund", queue: "orders"},
		{id: "refund-3", typ: "Refund", queue: "orders", in: qlScenario{Customer: "c-4", DeclineType: "BankTimeout", Decline: "timeout talking to bank"}},
		{id: "order-21", typ: "Order", queue: "orders"},
		{id: "order-22", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-5", Region: "eu", Amount: 99.5, Signal: "address-changed"}, then: "signal", ref: "B-9"},
		{id: "pay-6", typ: "Payment", queue: "payments", in: qlScenario{Signal: "payment-confirmed"}},
		{id: "order-24", typ: "Order", queue: "orders", in: qlScenario{Customer: "c-10", Region: "eu", Amount: 1, Vip: qlFalse(), Approval: "manager"}, then: "approve"},
	}
)

// qlFixture is the index built from the runs, and mid (every phase-1 run
// started, and every phase-1 approval was requested, before mid; every
// phase-2 run after).
type qlFixture struct {
	ix  *visibility.Index
	mid time.Time
}

func qlQuietLogger() *slog.Logger {
	if os.Getenv("FOREMAN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
}

func newQLFixture(t *testing.T) *qlFixture {
	t.Helper()
	store, _ := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	services := make(chan struct{})
	go func() {
		defer close(services)
		_ = engine.RunServices(ctx, store, qlQuietLogger())
	}()
	t.Cleanup(func() { cancel(); <-services })
	for _, queue := range []string{"orders", "payments"} {
		w := engine.NewWorker(store, queue, engine.WorkerOptions{Logger: qlQuietLogger(), ShutdownTimeout: 2 * time.Second})
		for _, typ := range []string{"Order", "Payment", "Refund"} {
			if err := w.RegisterWorkflowWithName(typ, qlOrder); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.RegisterActivityWithName("Charge", qlCharge); err != nil {
			t.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
	starter := engine.NewClient(store, engine.ClientOptions{Identity: "tester"})
	bob := engine.NewClient(store, engine.ClientOptions{Identity: "bob"})
	carol := engine.NewClient(store, engine.ClientOptions{Identity: "carol"})

	runPhase := func(runs []qlRun) {
		for _, r := range runs {
			if _, err := starter.Start(ctx, engine.StartOptions{ID: r.id, TaskQueue: r.queue}, r.typ, r.in); err != nil {
				t.Fatalf("start %s: %v", r.id, err)
			}
		}
		for _, r := range runs {
			qlSettle(t, ctx, starter, r)
			switch r.then {
			case "signal":
				if err := bob.Signal(ctx, r.id, "", r.in.Signal, map[string]string{"ref": r.ref, "street": "Elm street"}); err != nil {
					t.Fatalf("signal %s: %v", r.id, err)
				}
				if err := starter.GetResult(ctx, r.id, "", nil); err != nil {
					t.Fatalf("%s after its signal: %v", r.id, err)
				}
			case "terminate":
				if err := carol.Terminate(ctx, r.id, "", "duplicate of another run"); err != nil {
					t.Fatalf("terminate %s: %v", r.id, err)
				}
				if err := starter.GetResult(ctx, r.id, "", nil); err == nil {
					t.Fatalf("%s terminated but no error", r.id)
				}
			case "approve":
				if err := carol.Decide(ctx, r.id, "", r.in.Approval, true, "fine by me"); err != nil {
					t.Fatalf("approve %s: %v", r.id, err)
				}
				if err := starter.GetResult(ctx, r.id, "", nil); err != nil {
					t.Fatalf("%s after approval: %v", r.id, err)
				}
			}
		}
	}
	runPhase(qlPhase1)
	time.Sleep(20 * time.Millisecond)
	mid := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	runPhase(qlPhase2)

	ix, err := visibility.OpenIndex(filepath.Join(t.TempDir(), "index"), qlQuietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	last, err := store.LastHistorySeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := visibility.NewIndexer(ix, store, visibility.IndexerOptions{Logger: qlQuietLogger()}).CatchUp(ctx, last); err != nil {
		t.Fatalf("indexing: %v", err)
	}
	return &qlFixture{ix: ix, mid: mid}
}

// qlSettle waits until r has reached the state its scenario leads to on
// its own: closed, or waiting for its approval or signal.
func qlSettle(t *testing.T, ctx context.Context, c *engine.Client, r qlRun) {
	t.Helper()
	if r.in.Approval == "" && r.in.Signal == "" {
		_ = c.GetResult(ctx, r.id, "", nil) // failed runs return their failure
		return
	}
	want := "waiting for " + r.in.Signal
	if r.in.Approval != "" {
		want = "waiting for " + r.in.Approval + " approval"
	}
	jstest.CheckFor(t, 20*time.Second, 5*time.Millisecond, func() error {
		x, err := c.Describe(ctx, r.id, "")
		if err != nil {
			return err
		}
		// The status line is set before the wait is recorded; wait for
		// the workflow task that recorded it to complete.
		if x.StatusLine != want || (r.in.Approval != "" && len(x.Approvals) == 0) {
			return fmt.Errorf("%s: status line %q, %d approvals pending", r.id, x.StatusLine, len(x.Approvals))
		}
		return nil
	})
}

// qlIDs is every workflow id of the table, sorted.
func qlIDs() []string {
	var ids []string
	for _, r := range append(slices.Clone(qlPhase1), qlPhase2...) {
		ids = append(ids, r.id)
	}
	slices.Sort(ids)
	return ids
}

// search returns the workflow ids q finds (every page), in the order the
// index returned them.
func (f *qlFixture) search(t *testing.T, q string, sort []string) ([]string, error) {
	t.Helper()
	var ids []string
	req := visibility.SearchRequest{Query: q, Sort: sort, Size: 7}
	for {
		res, err := f.ix.Search(context.Background(), req)
		if err != nil {
			return nil, err
		}
		for _, d := range res.Hits {
			ids = append(ids, d.WorkflowID)
		}
		if len(res.Next) == 0 {
			if uint64(len(ids)) != res.Total {
				t.Errorf("%s: %d hits over the pages, total %d", q, len(ids), res.Total)
			}
			return ids, nil
		}
		req.After = res.Next
		if len(ids) > 1000 {
			t.Fatalf("%s: pages do not end", q)
		}
	}
}

// qlCase is one row of the table: equivalent queries (query string first,
// then Temporal, and any other equivalent spelling) and the workflow ids
// they all find. When sorted, the order of want is asserted too (sort is
// given to the query-string form; Temporal forms carry ORDER BY).
type qlCase struct {
	name    string
	queries []string
	sort    []string
	sorted  bool
	want    []string
}

func TestSearchQueryLanguage(t *testing.T) {
	f := newQLFixture(t)
	mid := f.mid.Format(time.RFC3339Nano)
	all := qlIDs()
	cases := []qlCase{
		{name: "running", queries: []string{`status:running`, `ExecutionStatus = 'Running'`},
			want: []string{"order-420", "order-6", "order-8", "pay-3", "pay-6", "refund-2"}},
		{name: "failed", queries: []string{`status:failed`, `ExecutionStatus = 'Failed'`, `status = 'failed'`},
			want: []string{"order-3", "order-4", "order-5", "pay-2", "refund-3"}},
		{name: "terminated", queries: []string{`status:terminated`, `ExecutionStatus = "Terminated"`},
			want: []string{"order-10", "pay-5"}},
		{name: "completed payments", queries: []string{`status:completed type:Payment`, `ExecutionStatus = 'Completed' AND WorkflowType = 'Payment'`},
			want: []string{"pay-1", "pay-42-x"}},
		{name: "unfinished orders", queries: []string{`type:Order -status:completed`, `WorkflowType = 'Order' AND ExecutionStatus != 'Completed'`, `type:Order NOT status:completed`},
			want: []string{"order-10", "order-3", "order-4", "order-420", "order-5", "order-6", "order-8"}},
		{name: "failed or terminated", queries: []string{`status:(failed OR terminated)`, `ExecutionStatus IN ('Failed', 'Terminated')`, `status:failed OR status:terminated`},
			want: []string{"order-10", "order-3", "order-4", "order-5", "pay-2", "pay-5", "refund-3"}},
		{name: "waiting on approval", queries: []string{`waiting_on:approval`, `WaitingOn = 'approval'`},
			want: []string{"order-420", "order-6", "pay-3", "refund-2"}},
		{name: "waiting on the manager", queries: []string{`waiting_on:approval approvals:manager`, `WaitingOn = 'approval' AND approvals = 'manager'`},
			want: []string{"order-420", "order-6", "refund-2"}},
		{name: "waiting on a signal", queries: []string{`waiting_on:signal`, `WaitingOn = 'signal'`},
			want: []string{"order-8", "pay-6"}},
		{name: "approvals older than mid", queries: []string{`approval_since:<"` + mid + `"`, `ApprovalSince < '` + mid + `'`},
			want: []string{"order-6", "pay-3"}},
		{name: "approvals waiting more than a day", queries: []string{`approval_since:<now-24h`, `approval_since < now-1d`, `waiting_on:approval approval_since:<now-1d`},
			want: nil},
		{name: "approvals of the last hour", queries: []string{`approval_since:>now-1h`, `ApprovalSince > 'now-1h'`},
			want: []string{"order-420", "order-6", "pay-3", "refund-2"}},
		{name: "card declined", queries: []string{`failure:"card declined"`, `Failure = 'card declined'`, `failure CONTAINS 'card declined'`, `Failure LIKE '%card declined%'`},
			want: []string{"order-3", "order-4", "pay-2"}},
		{name: "declined, not payments", queries: []string{`failure:declined -type:Payment`, `Failure = 'declined' AND WorkflowType != 'Payment'`},
			want: []string{"order-3", "order-4"}},
		{name: "history mentions card declined", queries: []string{`history:"card declined"`, `History = 'card declined'`, `"card declined"`},
			want: []string{"order-3", "order-4", "pay-2"}},
		{name: "terminations in history", queries: []string{`history:"duplicate of another run"`, `History = 'duplicate of another run'`},
			want: []string{"order-10", "pay-5"}},
		{name: "ids containing -42", queries: []string{`workflow_id:*-42*`, `WorkflowId CONTAINS '-42'`, `WorkflowId LIKE '%-42%'`},
			want: []string{"order-42", "order-420", "pay-42-x", "x-42-y"}},
		{name: "id prefix", queries: []string{`workflow_id:order-4*`, `WorkflowId STARTS_WITH 'order-4'`, `WorkflowId LIKE 'order-4%'`},
			want: []string{"order-4", "order-42", "order-420"}},
		{name: "one-digit orders", queries: []string{`workflow_id:order-?`, `WorkflowId LIKE 'order-_'`},
			want: []string{"order-1", "order-2", "order-3", "order-4", "order-5", "order-6", "order-8", "order-9"}},
		{name: "exact id", queries: []string{`workflow_id:order-42`, `WorkflowId = 'order-42'`, `order-42`},
			want: []string{"order-42"}},
		{name: "customer", queries: []string{`CustomerId:c-1`, `CustomerId = 'c-1'`, `attr.CustomerId:c-1`},
			want: []string{"order-1", "order-4", "pay-1", "refund-1"}},
		{name: "large amounts", queries: []string{`Amount:>=1000`, `Amount >= 1000`, `attr.Amount:[1000 TO *]`},
			want: []string{"order-2", "order-420", "order-6"}},
		{name: "amount range", queries: []string{`Amount:[20 TO 50]`, `Amount BETWEEN 20 AND 50`},
			want: []string{"order-1", "order-3", "order-8", "order-9", "pay-1", "pay-2"}},
		{name: "vip", queries: []string{`Vip:true`, `Vip = true`},
			want: []string{"order-2", "order-6"}},
		{name: "vip set", queries: []string{`Vip:*`, `Vip IS NOT NULL`},
			want: []string{"order-1", "order-2", "order-24", "order-6"}},
		{name: "no customer", queries: []string{`-CustomerId:*`, `CustomerId IS NULL`},
			want: []string{"order-21", "pay-6", "x-42-y"}},
		{name: "notes", queries: []string{`Notes:"called back"`, `Notes = 'called back'`},
			want: []string{"refund-1"}},
		{name: "signal payload", queries: []string{`signals:"A-7"`, `Signals = 'A-7'`},
			want: []string{"order-9"}},
		{name: "signal payload and name", queries: []string{`signals:"elm street" signal_names:address-changed`, `Signals = 'Elm Street' AND signal_names = 'address-changed'`},
			want: []string{"order-22"}},
		{name: "signal names", queries: []string{`signal_names:address-changed`, `signal_names = 'address-changed'`},
			want: []string{"order-22"}},
		{name: "error types", queries: []string{`error_types:CardDeclined`, `error_types = 'CardDeclined'`},
			want: []string{"order-3", "order-4", "pay-2"}},
		{name: "actors", queries: []string{`actors:carol`, `actors = 'carol'`},
			want: []string{"order-10", "order-24", "pay-5"}},
		{name: "started before mid", queries: []string{`start_time:<"` + mid + `"`, `StartTime < '` + mid + `'`, `ExecutionTime < '` + mid + `'`},
			want: []string{"order-1", "order-10", "order-2", "order-3", "order-4", "order-5", "order-6", "order-8", "order-9", "pay-3"}},
		{name: "closed after mid", queries: []string{`close_time:* start_time:>"` + mid + `"`, `CloseTime IS NOT NULL AND StartTime > '` + mid + `'`},
			want: []string{"order-21", "order-22", "order-24", "order-42", "pay-1", "pay-2", "pay-42-x", "pay-5", "refund-1", "refund-3", "x-42-y"}},
		{name: "task queue", queries: []string{`task_queue:payments`, `TaskQueue = 'payments'`},
			want: []string{"pay-1", "pay-2", "pay-3", "pay-42-x", "pay-5", "pay-6"}},
		{name: "region and status", queries: []string{`Region:eu status:completed`, `Region = 'eu' AND ExecutionStatus = 'Completed'`},
			want: []string{"order-1", "order-22", "order-24", "pay-1"}},
		{name: "grouped or", queries: []string{`(type:Refund OR type:Payment) -status:running`, `(WorkflowType = 'Refund' OR WorkflowType = 'Payment') AND NOT ExecutionStatus = 'Running'`, `type:(Refund OR Payment) !status:running`},
			want: []string{"pay-1", "pay-2", "pay-42-x", "pay-5", "refund-1", "refund-3", "x-42-y"}},
		{name: "status line", queries: []string{`status_line:"waiting for manager approval"`, `StatusLine = 'waiting for manager approval'`},
			want: []string{"order-420", "order-6", "refund-2"}},
		{name: "everything", queries: []string{``, `history_length:>0`, `HistoryLength > 0`, `ORDER BY WorkflowId`},
			want: all},
		{name: "activities", queries: []string{`activities:Charge -status:running`, `activities = 'Charge' AND ExecutionStatus NOT IN ('Running')`},
			want: slices.DeleteFunc(slices.Clone(all), func(id string) bool {
				return slices.Contains([]string{"order-420", "order-6", "order-8", "pay-3", "pay-6", "refund-2"}, id)
			})},
		// Sorted.
		{name: "completed by amount", queries: []string{`status:completed Amount:*`, `ExecutionStatus = 'Completed' AND Amount IS NOT NULL ORDER BY Amount DESC`},
			sort: []string{"-Amount"}, sorted: true,
			want: []string{"order-2", "order-42", "order-22", "order-9", "pay-1", "order-1", "pay-42-x", "order-24"}},
		{name: "failed orders by start", queries: []string{`type:Order status:failed`, `WorkflowType = 'Order' AND ExecutionStatus = 'Failed' ORDER BY StartTime`},
			sort: []string{"start_time"}, sorted: true,
			want: []string{"order-3", "order-4", "order-5"}},
		{name: "approvals by id", queries: []string{`waiting_on:approval`, `WaitingOn = 'approval' ORDER BY WorkflowId ASC`},
			sort: []string{"WorkflowId"}, sorted: true,
			want: []string{"order-420", "order-6", "pay-3", "refund-2"}},
		{name: "terminated newest first", queries: []string{`status:terminated`, `ExecutionStatus = 'Terminated' ORDER BY StartTime DESC`},
			sort: []string{"-StartTime"}, sorted: true,
			want: []string{"pay-5", "order-10"}},
		{name: "customers then id", queries: []string{`CustomerId:(c-1 OR c-2)`, `CustomerId IN ('c-1', 'c-2') ORDER BY CustomerId DESC, WorkflowId`},
			sort: []string{"-CustomerId", "workflow_id"}, sorted: true,
			want: []string{"order-2", "order-6", "refund-2", "order-1", "order-4", "pay-1", "refund-1"}},
	}
	queries := 0
	for _, c := range cases {
		var first []string
		for i, q := range c.queries {
			var sortBy []string
			if i == 0 {
				sortBy = c.sort
			}
			got, err := f.search(t, q, sortBy)
			if err != nil {
				t.Errorf("%s: %s: %v", c.name, q, err)
				continue
			}
			queries++
			if !c.sorted {
				slices.Sort(got)
			}
			if !reflect.DeepEqual(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("%s: %s\n got %q\nwant %q", c.name, q, got, c.want)
			}
			if i == 0 {
				first = got
			} else if !reflect.DeepEqual(got, first) {
				t.Errorf("%s: dialects disagree: %q finds %q, %q finds %q", c.name, c.queries[0], first, q, got)
			}
			n, err := f.ix.Count(context.Background(), visibility.CountRequest{Query: q})
			if err != nil || n.Total != uint64(len(c.want)) {
				t.Errorf("%s: count %s = %v, %v; want %d", c.name, q, n, err, len(c.want))
			}
		}
	}
	t.Logf("%d queries over %d runs", queries, len(all))

	// Grouped counts agree across dialects too.
	wantGroups := []visibility.Group{{Value: "completed", Count: 7}, {Value: "failed", Count: 3}, {Value: "running", Count: 3}, {Value: "terminated", Count: 1}}
	for _, q := range []string{`type:Order`, `WorkflowType = 'Order'`} {
		for _, by := range []string{"status", "ExecutionStatus"} {
			res, err := f.ix.Count(context.Background(), visibility.CountRequest{Query: q, GroupBy: by})
			if err != nil {
				t.Errorf("count %s by %s: %v", q, by, err)
				continue
			}
			if res.Total != 14 || !reflect.DeepEqual(res.Groups, wantGroups) {
				t.Errorf("count %s by %s = %d %+v, want 14 %+v", q, by, res.Total, res.Groups, wantGroups)
			}
		}
	}
}

// TestSearchQueryErrors: bad queries reach the caller of Search as
// positioned bad_query errors.
func TestSearchQueryErrors(t *testing.T) {
	ix, err := visibility.OpenIndex(filepath.Join(t.TempDir(), "index"), qlQuietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	cases := []struct {
		q, sort  string
		code     string
		pos      int
		expected string
		msg      string
	}{
		{q: `ExecutionStatus = `, code: "bad_query", pos: 18, expected: "a value", msg: `at 18: expected a value after "=", found end of query`},
		{q: `WorkflowType = 'Order' AND`, code: "bad_query", pos: 26, msg: `after "AND", found end of query`},
		{q: `statuss:running`, code: "bad_query", pos: 0, expected: "status", msg: `unknown field "statuss" (did you mean status?)`},
		{q: `status:running CustomerIdd:c-1`, code: "bad_query", pos: 15, msg: `unknown field "CustomerIdd"`},
		{q: `ExecutionStatus = 'Runing'`, code: "bad_query", pos: 18, expected: "running", msg: `did you mean running?`},
		{q: `start_time:>yesterday`, code: "bad_query", pos: 12, expected: "a time", msg: `start_time takes a time`},
		{q: `failure:"card declined`, code: "bad_query", pos: 8, msg: `expected a closing "`},
		{q: `WorkflowId IN ('a', 'b'`, code: "bad_query", pos: 23, msg: `expected "," or ")"`},
		{q: `Failure > 'x'`, code: "bad_query", pos: 8, msg: `failure is a text field`},
		{q: `status:running`, sort: "failure", code: "bad_request", msg: `cannot sort by failure`},
		{q: `status:running`, sort: "nope", code: "bad_request", msg: `unknown field "nope"`},
		{q: `ExecutionStatus = 'Running' ORDER BY Failure`, code: "bad_query", pos: 37, msg: `cannot sort by failure`},
	}
	for _, c := range cases {
		req := visibility.SearchRequest{Query: c.q}
		if c.sort != "" {
			req.Sort = []string{c.sort}
		}
		_, err := ix.Search(context.Background(), req)
		check := func(api string, err error) {
			var ae *visibility.APIError
			if !errors.As(err, &ae) {
				t.Errorf("%s %s: got %v, want an *APIError", api, c.q, err)
				return
			}
			if ae.Code != c.code || ae.Pos != c.pos || !strings.Contains(ae.Message, c.msg) || c.expected != "" && ae.Expected != c.expected {
				t.Errorf("%s %s: got %+v\nwant code %s pos %d expected %q message …%s…", api, c.q, *ae, c.code, c.pos, c.expected, c.msg)
			}
		}
		check("search", err)
		if c.sort == "" && !strings.Contains(c.q, "ORDER BY") {
			_, err := ix.Count(context.Background(), visibility.CountRequest{Query: c.q})
			check("count", err)
		}
	}
}
