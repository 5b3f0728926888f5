// Package examples holds the demo workflows that `foreman-engine --demo`
// and `--examples` run. (The full example set is its own issue; this is the
// first one.)
package examples

import (
	"context"
	"fmt"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// OrderQueue is the task queue of the order workflow.
const OrderQueue = "orders"

// OrderInput is the input of OrderFulfillment.
type OrderInput struct {
	OrderID string  `json:"order_id"`
	Amount  float64 `json:"amount"`
	// FailAt forces a failure at "charge" or "ship".
	FailAt string `json:"fail_at,omitempty"`
}

// OrderFulfillment reserves stock, charges, waits for a manager's approval
// on large orders, ships, and reports its status and progress as it goes.
func OrderFulfillment(ctx engine.Context, in OrderInput) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 5},
	})
	if err := engine.UpsertSearchAttributes(ctx, map[string]engine.SearchAttribute{"OrderID": engine.Keyword(in.OrderID), "Amount": engine.Float(in.Amount)}); err != nil {
		return "", err
	}
	steps := []struct {
		status string
		fn     any
	}{{"reserving inventory", ReserveInventory}, {"charging payment", ChargePayment}}
	for i, s := range steps {
		engine.SetStatus(ctx, s.status)
		if err := engine.ExecuteActivity(ctx, s.fn, in).Get(ctx, nil); err != nil {
			return "", err
		}
		engine.SetProgress(ctx, int64(i+1), 3)
	}
	if in.Amount > 1000 {
		engine.SetStatus(ctx, "waiting for manager approval")
		d, err := engine.AwaitApproval(ctx, "manager", engine.ApprovalOptions{Description: fmt.Sprintf("order %s of %.2f", in.OrderID, in.Amount), Timeout: 72 * time.Hour})
		if err != nil {
			return "", err
		}
		if !d.Approved {
			return fmt.Sprintf("order %s rejected by %s", in.OrderID, d.By), nil
		}
	}
	engine.SetStatus(ctx, "shipping")
	var tracking string
	if err := engine.ExecuteActivity(ctx, Ship, in).Get(ctx, &tracking); err != nil {
		return "", err
	}
	engine.SetProgress(ctx, 3, 3)
	engine.SetStatus(ctx, "shipped "+tracking)
	return tracking, nil
}

// ReserveInventory pretends to reserve stock.
func ReserveInventory(ctx context.Context, in OrderInput) error {
	return pause(ctx, 200*time.Millisecond)
}

// ChargePayment pretends to charge a card; it fails when asked to.
func ChargePayment(ctx context.Context, in OrderInput) error {
	if in.FailAt == "charge" {
		return engine.NewApplicationError("CardDeclined", "card declined for order "+in.OrderID, true)
	}
	return pause(ctx, 300*time.Millisecond)
}

// Ship pretends to ship and returns a tracking number.
func Ship(ctx context.Context, in OrderInput) (string, error) {
	if in.FailAt == "ship" {
		return "", fmt.Errorf("carrier unavailable")
	}
	if err := pause(ctx, 200*time.Millisecond); err != nil {
		return "", err
	}
	return "TRK-" + in.OrderID, nil
}

// ReleaseInventory undoes ReserveInventory (a compensation).
func ReleaseInventory(ctx context.Context, in OrderInput) error {
	return pause(ctx, 100*time.Millisecond)
}

// RefundPayment undoes ChargePayment (a compensation).
func RefundPayment(ctx context.Context, in OrderInput) error {
	return pause(ctx, 150*time.Millisecond)
}
