// Package examples holds Foreman's example workflows, the code sample a
// newcomer reads first. Each shows part of the model and is compiled,
// tested and run by `foreman-engine --examples` (workers only) and
// `foreman-engine --demo` (workers and a live load):
//
//   - OrderFulfillment (queue "orders"): activities with retries, a saga
//     whose forward steps register compensations, an approval, status and
//     progress; it ships through a child workflow, Shipment.
//   - ExpenseApproval (queue "approvals"): human approvals with a timeout
//     and an escalation.
//   - DocumentIngestion (queue "ingest"): long activities that heartbeat and
//     resume after a crash, a flaky step, a signal, a query.
//   - SubscriptionRenewal (queue "billing"): durable sleeps, a cancel
//     signal, continue-as-new.
//
// Workflows are deterministic functions of their input and history: they
// make decisions and call engine APIs; every side effect (network, disk,
// time, randomness) lives in an activity, a plain Go function the engine
// runs, retries and records.
package examples

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
)

// OrderQueue is the task queue of OrderFulfillment.
const OrderQueue = "orders"

// OrderApprovalLimit is the largest order shipped without a manager's approval.
const OrderApprovalLimit = 1000

// OrderInput is the input of OrderFulfillment.
type OrderInput struct {
	OrderID string  `json:"order_id"`
	Amount  float64 `json:"amount"`
	// FailAt forces a failure at "charge" (card declined) or "ship"
	// (carrier unavailable), to watch the earlier steps compensated.
	FailAt string `json:"fail_at,omitempty"`
}

// OrderFulfillment reserves stock, charges the customer, waits for a
// manager's approval on large orders, and ships. It is a saga: right after
// each forward step succeeds it registers the step that undoes it, and when
// a later step fails (or the order is rejected, or the run is cancelled) it
// runs those compensations, newest first, before returning. The
// registrations are in history, so an operator can also compensate a run
// whose code crashed or was terminated (`foreman compensate`).
//
// It returns the tracking number of the shipment. A failed order returns
// its failure after compensating, and the run ends "compensated".
func OrderFulfillment(ctx engine.Context, in OrderInput) (string, error) {
	if err := in.validate(); err != nil {
		return "", err
	}
	// Every activity below runs with these options: 30 s per attempt, and
	// up to 5 attempts with exponential backoff for transient failures.
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 5},
	})
	if err := engine.UpsertSearchAttributes(ctx, map[string]engine.SearchAttribute{
		"OrderID": engine.Keyword(in.OrderID), "Amount": engine.Float(in.Amount),
	}); err != nil {
		return "", err
	}

	// Step 1: reserve; if anything later fails, release.
	engine.SetStatus(ctx, "reserving inventory")
	if err := engine.ExecuteActivity(ctx, ReserveInventory, in).Get(ctx, nil); err != nil {
		return "", err // nothing done yet, nothing to undo
	}
	if err := compensations.Add(ctx, ReleaseInventory, in); err != nil {
		return "", err
	}
	engine.SetProgress(ctx, 1, 3)

	// Step 2: charge; if anything later fails, refund.
	engine.SetStatus(ctx, "charging payment")
	if err := engine.ExecuteActivity(ctx, ChargePayment, in).Get(ctx, nil); err != nil {
		return "", undo(ctx, err)
	}
	if err := compensations.Add(ctx, RefundPayment, in); err != nil {
		return "", undo(ctx, err)
	}
	engine.SetProgress(ctx, 2, 3)

	// Large orders need a person's yes. The wait is durable: the worker
	// holds nothing while an operator takes hours to decide.
	if in.Amount > OrderApprovalLimit {
		engine.SetStatus(ctx, "waiting for manager approval")
		d, err := engine.AwaitApproval(ctx, "manager", engine.ApprovalOptions{
			Description: fmt.Sprintf("order %s of %.2f", in.OrderID, in.Amount),
			Timeout:     72 * time.Hour,
		})
		if err != nil { // timed out, or the run was cancelled
			return "", undo(ctx, err)
		}
		if !d.Approved {
			// A rejection is a normal outcome, not a failure: undo the
			// charge and the reservation, and complete with a verdict.
			if err := compensate(ctx, "rejected by "+d.By); err != nil {
				return "", err
			}
			verdict := fmt.Sprintf("order %s rejected by %s", in.OrderID, d.By)
			engine.SetStatus(ctx, verdict+"; payment refunded, stock released")
			return verdict, nil
		}
	}

	// Step 3: ship. The last step registers no compensation: once shipped,
	// the order is done.
	engine.SetStatus(ctx, "shipping")
	var tracking string
	var err error
	// Since version 1 the shipment is a workflow of its own, a child of
	// the order (runs started before keep the single Ship activity).
	if engine.GetVersion(ctx, "shipment-child", engine.DefaultVersion, 1) == 1 {
		tracking, err = shipAsChild(ctx, in)
	} else {
		err = engine.ExecuteActivity(ctx, Ship, in).Get(ctx, &tracking)
	}
	if err != nil {
		return "", undo(ctx, err)
	}
	engine.SetProgress(ctx, 3, 3)
	engine.SetStatus(ctx, "shipped "+tracking)
	return tracking, nil
}

// undo compensates the steps done so far and returns cause, the failure
// that made it necessary. If a compensation itself fails, both errors are
// returned and the run ends failed, not compensated: an operator can run the
// remaining compensations from the console.
func undo(ctx engine.Context, cause error) error {
	if err := compensate(ctx, cause.Error()); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// compensate runs the compensations registered so far, newest first, each
// as an activity recorded in history, and says so in the status line.
func compensate(ctx engine.Context, why string) error {
	engine.SetStatus(ctx, "compensating: "+why)
	if err := compensations.Compensate(ctx, compensations.Options{}); err != nil {
		engine.SetStatus(ctx, "compensation failed: "+err.Error())
		return err
	}
	engine.SetStatus(ctx, "compensated: "+why)
	return nil
}

func (in OrderInput) validate() error {
	var bad []string
	if in.OrderID == "" {
		bad = append(bad, "order_id is required")
	}
	if in.Amount <= 0 {
		bad = append(bad, fmt.Sprintf("amount must be positive, got %v", in.Amount))
	}
	if in.FailAt != "" && in.FailAt != "charge" && in.FailAt != "ship" {
		bad = append(bad, fmt.Sprintf(`fail_at must be "", "charge" or "ship", got %q`, in.FailAt))
	}
	if len(bad) > 0 {
		return engine.NewApplicationError("BadInput", "order: "+strings.Join(bad, "; "), true)
	}
	return nil
}

// ReserveInventory pretends to reserve stock.
func ReserveInventory(ctx context.Context, in OrderInput) error {
	return pause(ctx, 200*time.Millisecond)
}

// ReleaseInventory undoes ReserveInventory (a compensation).
func ReleaseInventory(ctx context.Context, in OrderInput) error {
	return pause(ctx, 100*time.Millisecond)
}

// ChargePayment pretends to charge a card; it fails when asked to. A
// declined card is non-retryable: asking again would not change the answer.
func ChargePayment(ctx context.Context, in OrderInput) error {
	if in.FailAt == "charge" {
		return engine.NewApplicationError("CardDeclined", "card declined for order "+in.OrderID, true)
	}
	return pause(ctx, 300*time.Millisecond)
}

// RefundPayment undoes ChargePayment (a compensation).
func RefundPayment(ctx context.Context, in OrderInput) error {
	return pause(ctx, 150*time.Millisecond)
}

// Ship pretends to hand the order to a carrier and returns a tracking
// number; it fails when asked to.
func Ship(ctx context.Context, in OrderInput) (string, error) {
	if in.FailAt == "ship" {
		return "", engine.NewApplicationError("CarrierUnavailable", "no carrier accepts order "+in.OrderID, true)
	}
	if err := pause(ctx, 200*time.Millisecond); err != nil {
		return "", err
	}
	return "TRK-" + in.OrderID, nil
}
