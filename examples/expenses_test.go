package examples_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

func TestExpenseApproval(t *testing.T) {
	e := newEnv(t)
	startExpense := func(t *testing.T, in examples.ExpenseInput) string {
		id := "expense-" + in.ExpenseID
		e.start(t, id, examples.ExpenseQueue, examples.ExpenseApproval, in)
		return id
	}

	t.Run("small amounts are paid without approval", func(t *testing.T) {
		t.Parallel()
		id := startExpense(t, examples.ExpenseInput{ExpenseID: "E1", Amount: 80, Submitter: "bob"})
		var res examples.ExpenseResult
		e.mustResult(t, id, &res)
		want := examples.ExpenseResult{ExpenseID: "E1", Outcome: "paid", Level: "auto", DecidedBy: "policy", PaymentID: "PAY-E1",
			Summary: "expense E1 of 80.00 paid without approval (PAY-E1)"}
		if res != want {
			t.Fatalf("result\n got %+v\nwant %+v", res, want)
		}
		if got := activities(e.history(t, id)); !reflect.DeepEqual(got, []string{"PayExpense"}) {
			t.Fatalf("activities %v", got)
		}
	})

	t.Run("a manager approves", func(t *testing.T) {
		t.Parallel()
		id := startExpense(t, examples.ExpenseInput{ExpenseID: "E2", Amount: 1500, Submitter: "bob"})
		p := e.waitForApproval(t, id, "manager")
		if p.Timeout != examples.DefaultManagerTimeout || !strings.Contains(p.Description, "E2 of 1500.00 by bob") {
			t.Fatalf("approval request %+v", p)
		}
		x := e.describe(t, id)
		if x.StatusLine != "waiting for a manager (escalates to a director after 72h0m0s)" {
			t.Fatalf("status line %q", x.StatusLine)
		}
		if err := e.as("alice").Decide(e.ctx, id, "", "manager", true, "within budget"); err != nil {
			t.Fatal(err)
		}
		var res examples.ExpenseResult
		e.mustResult(t, id, &res)
		want := examples.ExpenseResult{ExpenseID: "E2", Outcome: "paid", Level: "manager", DecidedBy: "alice", Comment: "within budget", PaymentID: "PAY-E2",
			Summary: "expense E2 of 1500.00 approved by alice (manager): within budget; paid PAY-E2"}
		if res != want {
			t.Fatalf("result\n got %+v\nwant %+v", res, want)
		}
		if x := e.describe(t, id); x.StatusLine != want.Summary || x.Progress == nil || x.Progress.Done != 2 {
			t.Fatalf("status %q progress %+v", x.StatusLine, x.Progress)
		}
	})

	t.Run("a manager rejects and the submitter is notified", func(t *testing.T) {
		t.Parallel()
		id := startExpense(t, examples.ExpenseInput{ExpenseID: "E3", Amount: 4000, Submitter: "bob"})
		e.waitForApproval(t, id, "manager")
		if err := e.as("alice").Decide(e.ctx, id, "", "manager", false, "no receipts"); err != nil {
			t.Fatal(err)
		}
		var res examples.ExpenseResult
		e.mustResult(t, id, &res)
		if res.Outcome != "rejected" || res.Level != "manager" || res.DecidedBy != "alice" || res.Comment != "no receipts" || res.PaymentID != "" ||
			res.Summary != "expense E3 of 4000.00 rejected by alice (manager): no receipts" {
			t.Fatalf("result %+v", res)
		}
		events := e.history(t, id)
		if got := activities(events); !reflect.DeepEqual(got, []string{"NotifyRejection"}) {
			t.Fatalf("activities %v, want only the rejection notice", got)
		}
	})

	// On the test clock: the real 72-hour manager timeout passes in
	// milliseconds.
	t.Run("no manager decision escalates to a director", func(t *testing.T) {
		t.Parallel()
		e := newClockEnv(t)
		id := "expense-E4"
		e.start(t, id, examples.ExpenseQueue, examples.ExpenseApproval, examples.ExpenseInput{ExpenseID: "E4", Amount: 2500, Submitter: "bob"})
		e.waitForApproval(t, id, "manager")
		e.clock.Advance(examples.DefaultManagerTimeout - time.Minute)
		if x := e.describe(t, id); len(x.Approvals) != 1 || x.Approvals[0].Name != "manager" {
			t.Fatalf("escalated before the manager's 72 h: %+v", x.Approvals)
		}
		e.clock.Advance(time.Minute)
		p := e.waitForApproval(t, id, "director")
		if !strings.HasPrefix(p.Description, "escalated: expense E4") || p.Timeout != 0 {
			t.Fatalf("director request %+v", p)
		}
		// The manager's request timed out; deciding it now is refused.
		if err := e.as("alice").Decide(e.ctx, id, "", "manager", true, "late"); err == nil {
			t.Fatal("a timed-out manager approval accepted a decision")
		}
		if x := e.describe(t, id); !strings.HasPrefix(x.StatusLine, "escalated: no manager decided within 72h0m0s") {
			t.Fatalf("status line %q", x.StatusLine)
		}
		if err := e.as("carol").Decide(e.ctx, id, "", "director", true, "ok"); err != nil {
			t.Fatal(err)
		}
		var res examples.ExpenseResult
		e.mustResult(t, id, &res)
		if res.Outcome != "paid" || res.Level != "director" || res.DecidedBy != "carol" || !res.Escalated || res.PaymentID != "PAY-E4" ||
			res.Summary != "expense E4 of 2500.00 approved by carol (director) after escalation: ok; paid PAY-E4" {
			t.Fatalf("result %+v", res)
		}
		if n := countEvents(e.history(t, id), engine.EventApprovalTimedOut); n != 1 {
			t.Fatalf("%d approval timeouts in history, want 1 (the manager's)", n)
		}
	})

	t.Run("a director rejects after escalation", func(t *testing.T) {
		t.Parallel()
		e := newClockEnv(t)
		id := "expense-E5"
		e.start(t, id, examples.ExpenseQueue, examples.ExpenseApproval, examples.ExpenseInput{ExpenseID: "E5", Amount: 9000, Submitter: "dan"})
		e.waitForApproval(t, id, "manager")
		e.clock.Advance(examples.DefaultManagerTimeout)
		e.waitForApproval(t, id, "director")
		if err := e.as("carol").Decide(e.ctx, id, "", "director", false, "over policy"); err != nil {
			t.Fatal(err)
		}
		var res examples.ExpenseResult
		e.mustResult(t, id, &res)
		if res.Outcome != "rejected" || res.Level != "director" || res.DecidedBy != "carol" || !res.Escalated ||
			res.Summary != "expense E5 of 9000.00 rejected by carol (director) after escalation: over policy" {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("nobody decides in time", func(t *testing.T) {
		t.Parallel()
		e := newClockEnv(t)
		id := "expense-E6"
		e.start(t, id, examples.ExpenseQueue, examples.ExpenseApproval, examples.ExpenseInput{ExpenseID: "E6", Amount: 1200, Submitter: "dan",
			DirectorTimeout: examples.Duration(24 * time.Hour)})
		var res examples.ExpenseResult
		e.mustResult(t, id, &res)
		if res.Outcome != "rejected" || res.Level != "expired" || !res.Escalated || res.PaymentID != "" ||
			res.Summary != "expense E6 of 1200.00 rejected: no decision from a manager or a director in time" {
			t.Fatalf("result %+v", res)
		}
		events := e.history(t, id)
		if got := activities(events); !reflect.DeepEqual(got, []string{"NotifyRejection"}) {
			t.Fatalf("activities %v", got)
		}
		// 72 h for the manager, then 24 h for the director
		if d := events[len(events)-1].Time.Sub(events[0].Time); d != 96*time.Hour {
			t.Fatalf("decided %s after the start, want 96h", d)
		}
	})

	t.Run("bad input fails with a clear error", func(t *testing.T) {
		t.Parallel()
		id := startExpense(t, examples.ExpenseInput{ExpenseID: "E7", Amount: -5})
		app := wantAppError(t, e.result(t, id, nil), "BadInput")
		if app.Message != "expense: amount must be positive, got -5; submitter is required" {
			t.Fatalf("message %q", app.Message)
		}
	})
}

func TestDurationJSON(t *testing.T) {
	var in examples.ExpenseInput
	if err := json.Unmarshal([]byte(`{"manager_timeout":"90s","director_timeout":1000000}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.ManagerTimeout != examples.Duration(90*time.Second) || in.DirectorTimeout != examples.Duration(time.Millisecond) {
		t.Fatalf("decoded %+v", in)
	}
	if b, _ := json.Marshal(examples.Duration(72 * time.Hour)); string(b) != `"72h0m0s"` {
		t.Fatalf("encoded %s", b)
	}
	err := json.Unmarshal([]byte(`{"manager_timeout":"soon"}`), &in)
	if err == nil || !strings.Contains(err.Error(), `duration "soon"`) {
		t.Fatalf("bad duration: %v", err)
	}
}
