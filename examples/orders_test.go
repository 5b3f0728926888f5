package examples_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

func TestOrderFulfillment(t *testing.T) {
	e := newEnv(t)
	startOrder := func(t *testing.T, in examples.OrderInput) string {
		id := "order-" + in.OrderID
		e.start(t, id, examples.OrderQueue, examples.OrderFulfillment, in)
		return id
	}
	// plan reads the run's compensation plan from its history.
	plan := func(t *testing.T, id string) compensations.Plan {
		t.Helper()
		p, err := compensations.PlanOf(e.ctx, e.client, id, "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	stepNames := func(p compensations.Plan) (out []string) {
		for _, s := range p.Steps {
			out = append(out, s.Activity+":"+string(s.Status))
		}
		return out
	}

	t.Run("ships and leaves its compensations unused", func(t *testing.T) {
		t.Parallel()
		id := startOrder(t, examples.OrderInput{OrderID: "1", Amount: 10})
		var tracking string
		e.mustResult(t, id, &tracking)
		if tracking != "TRK-1" {
			t.Fatalf("tracking %q", tracking)
		}
		x := e.describe(t, id)
		if x.Status != engine.StatusCompleted || x.StatusLine != "shipped TRK-1" || x.Progress == nil || *x.Progress != (engine.Progress{Done: 3, Total: 3}) {
			t.Fatalf("describe: %s %q %+v", x.Status, x.StatusLine, x.Progress)
		}
		p := plan(t, id)
		if got, want := stepNames(p), []string{"RefundPayment:pending", "ReleaseInventory:pending"}; !reflect.DeepEqual(got, want) || p.Compensated {
			t.Fatalf("plan %v (compensated %v), want %v", got, p.Compensated, want)
		}
	})

	t.Run("a declined card releases the stock", func(t *testing.T) {
		t.Parallel()
		id := startOrder(t, examples.OrderInput{OrderID: "2", Amount: 10, FailAt: "charge"})
		wantAppError(t, e.result(t, id, nil), "CardDeclined")
		if got, want := activities(e.history(t, id)), []string{"ReserveInventory", "ChargePayment", "ReleaseInventory"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("activities %v, want %v", got, want)
		}
		x := e.describe(t, id)
		if x.Status != engine.StatusCompensated || x.Failure == nil || x.Failure.Type != "CardDeclined" ||
			x.StatusLine != "compensated: activity ChargePayment failed after 1 attempt(s): CardDeclined: card declined for order 2" {
			t.Fatalf("describe: %s %+v %q", x.Status, x.Failure, x.StatusLine)
		}
		if p := plan(t, id); !p.Compensated || !reflect.DeepEqual(stepNames(p), []string{"ReleaseInventory:ok"}) {
			t.Fatalf("plan %+v", p)
		}
	})

	t.Run("a failed shipment refunds then releases", func(t *testing.T) {
		t.Parallel()
		id := startOrder(t, examples.OrderInput{OrderID: "3", Amount: 20, FailAt: "ship"})
		wantAppError(t, e.result(t, id, nil), "CarrierUnavailable")
		// Compensations run newest first: the refund before the release.
		// Shipping is the order's child workflow: Ship ran there.
		want := []string{"ReserveInventory", "ChargePayment", "RefundPayment", "ReleaseInventory"}
		if got := activities(e.history(t, id)); !reflect.DeepEqual(got, want) {
			t.Fatalf("activities %v, want %v", got, want)
		}
		if got := activities(e.history(t, id+"/shipment")); !reflect.DeepEqual(got, []string{"Ship"}) {
			t.Fatalf("the shipment's activities %v", got)
		}
		if x := e.describe(t, id+"/shipment"); x.Status != engine.StatusFailed || x.Parent == nil || x.Parent.WorkflowID != id {
			t.Fatalf("shipment %s, parent %+v", x.Status, x.Parent)
		}
		if x := e.describe(t, id); len(x.Children) != 1 || x.Children[0].Status != engine.StatusFailed {
			t.Fatalf("the order's children %+v", x.Children)
		}
		if x := e.describe(t, id); x.Status != engine.StatusCompensated {
			t.Fatalf("status %s", x.Status)
		}
		if p := plan(t, id); !p.Compensated || !reflect.DeepEqual(stepNames(p), []string{"RefundPayment:ok", "ReleaseInventory:ok"}) {
			t.Fatalf("plan %+v", p)
		}
	})

	t.Run("a large order ships once a manager approves", func(t *testing.T) {
		t.Parallel()
		id := startOrder(t, examples.OrderInput{OrderID: "4", Amount: 1500})
		e.waitForApproval(t, id, "manager")
		if x := e.describe(t, id); x.StatusLine != "waiting for manager approval" || *x.Progress != (engine.Progress{Done: 2, Total: 3}) {
			t.Fatalf("status %q progress %+v", x.StatusLine, x.Progress)
		}
		if err := e.as("manager-1").Decide(e.ctx, id, "", "manager", true, "ok"); err != nil {
			t.Fatal(err)
		}
		var tracking string
		e.mustResult(t, id, &tracking)
		if tracking != "TRK-4" {
			t.Fatalf("tracking %q", tracking)
		}
	})

	t.Run("a rejected large order is refunded and completes with the verdict", func(t *testing.T) {
		t.Parallel()
		id := startOrder(t, examples.OrderInput{OrderID: "5", Amount: 1500})
		e.waitForApproval(t, id, "manager")
		if err := e.as("manager-1").Decide(e.ctx, id, "", "manager", false, "too expensive"); err != nil {
			t.Fatal(err)
		}
		var verdict string
		e.mustResult(t, id, &verdict)
		if verdict != "order 5 rejected by manager-1" {
			t.Fatalf("verdict %q", verdict)
		}
		want := []string{"ReserveInventory", "ChargePayment", "RefundPayment", "ReleaseInventory"}
		if got := activities(e.history(t, id)); !reflect.DeepEqual(got, want) {
			t.Fatalf("activities %v, want %v", got, want)
		}
		x := e.describe(t, id)
		// It completed, and its steps were undone: one status word for
		// that everywhere (compensated), and how it closed beside it.
		if x.Status != engine.StatusCompensated || x.CloseStatus != engine.StatusCompleted ||
			x.StatusLine != "order 5 rejected by manager-1; payment refunded, stock released" {
			t.Fatalf("describe: %s (closed %s) %q", x.Status, x.CloseStatus, x.StatusLine)
		}
	})

	// Cancelling a run waiting for approval still undoes its steps: the
	// compensations run on a context the cancellation does not reach.
	t.Run("a cancelled order is compensated", func(t *testing.T) {
		t.Parallel()
		id := startOrder(t, examples.OrderInput{OrderID: "6", Amount: 2000})
		e.waitForApproval(t, id, "manager")
		if err := e.client.Cancel(e.ctx, id, "", "customer called"); err != nil {
			t.Fatal(err)
		}
		err := e.result(t, id, nil)
		var we *engine.WorkflowError
		if !errors.As(err, &we) || we.Status != engine.StatusCompensated || we.CloseStatus != engine.StatusCanceled {
			t.Fatalf("result: %v", err)
		}
		if got := activities(e.history(t, id))[2:]; !reflect.DeepEqual(got, []string{"RefundPayment", "ReleaseInventory"}) {
			t.Fatalf("compensations %v", got)
		}
		if x := e.describe(t, id); x.Status != engine.StatusCompensated {
			t.Fatalf("status %s", x.Status)
		}
	})

	t.Run("bad input fails with a clear error", func(t *testing.T) {
		t.Parallel()
		id := startOrder(t, examples.OrderInput{OrderID: "7", Amount: 10, FailAt: "pack"})
		app := wantAppError(t, e.result(t, id, nil), "BadInput")
		if app.Message != `order: fail_at must be "", "charge" or "ship", got "pack"` {
			t.Fatalf("message %q", app.Message)
		}
	})
}
