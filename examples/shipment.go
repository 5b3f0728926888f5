package examples

import (
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Shipment hands an order to a carrier and returns the tracking number.
// OrderFulfillment starts it as a child workflow: it has its own history,
// status and id ("<order id>/shipment"), the console shows it under its
// order (and `parent_id:ORDER` finds it), and it is terminated if its order
// closes first (the default parent close policy).
func Shipment(ctx engine.Context, in OrderInput) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 5},
	})
	engine.SetStatus(ctx, "handing order "+in.OrderID+" to a carrier")
	var tracking string
	if err := engine.ExecuteActivity(ctx, Ship, in).Get(ctx, &tracking); err != nil {
		return "", err
	}
	engine.SetStatus(ctx, "shipped "+tracking)
	return tracking, nil
}

// shipAsChild runs Shipment as a child of the order and returns its result.
func shipAsChild(ctx engine.Context, in OrderInput) (string, error) {
	var tracking string
	err := engine.ExecuteChildWorkflow(ctx, Shipment, in, engine.ChildWorkflowOptions{
		ID: engine.GetInfo(ctx).WorkflowID + "/shipment",
	}).Get(ctx, &tracking)
	return tracking, err
}
