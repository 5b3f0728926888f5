package visibility_test

import (
	"context"
	"fmt"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Workflows whose histories the indexer tests index.

type ixOrderIn struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
	Decline  bool    `json:"decline,omitempty"`
}

var ixDue = time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)

// ixOrder reserves, charges (declined when asked), reports status and
// progress and sets one custom attribute of every type.
func ixOrder(ctx engine.Context, in ixOrderIn) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2}})
	if err := engine.UpsertSearchAttributes(ctx, map[string]engine.SearchAttribute{
		"CustomerId": engine.Keyword(in.Customer), "Amount": engine.Float(in.Amount), "Items": engine.Int(3),
		"Note": engine.Text("gift wrapped for " + in.Customer), "Vip": engine.Bool(in.Amount > 100), "DueAt": engine.Time(ixDue),
	}); err != nil {
		return "", err
	}
	engine.SetStatus(ctx, "reserving stock")
	if err := engine.ExecuteActivity(ctx, ixReserve, in).Get(ctx, nil); err != nil {
		return "", err
	}
	engine.SetProgress(ctx, 1, 2)
	engine.SetStatus(ctx, "charging card")
	if err := engine.ExecuteActivity(ctx, ixCharge, in).Get(ctx, nil); err != nil {
		return "", err
	}
	engine.SetProgress(ctx, 2, 2)
	engine.SetStatus(ctx, "shipped")
	return "TRK-" + in.ID, nil
}

func ixReserve(ctx context.Context, in ixOrderIn) error { return nil }

func ixCharge(ctx context.Context, in ixOrderIn) error {
	if in.Decline {
		return engine.NewApplicationError("CardDeclined", "card declined for order "+in.ID, true)
	}
	return nil
}

// ixWaitApproval blocks on a manager's approval.
func ixWaitApproval(ctx engine.Context, in string) (string, error) {
	engine.SetStatus(ctx, "waiting for the manager")
	d, err := engine.AwaitApproval(ctx, "manager", engine.ApprovalOptions{Description: "refund " + in})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("approved=%v by %s", d.Approved, d.By), nil
}

// ixWaitSignal blocks until a "go" signal, then until a "stop" signal.
func ixWaitSignal(ctx engine.Context, in string) (string, error) {
	var payload string
	engine.GetSignalChannel(ctx, "go").Receive(ctx, &payload)
	engine.SetStatus(ctx, "got "+payload)
	engine.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
	return payload, nil
}

// ixRetrying keeps retrying an activity that fails, an hour apart.
func ixRetrying(ctx engine.Context, in string) error {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Hour}})
	return engine.ExecuteActivity(ctx, ixFlaky, in).Get(ctx, nil)
}

func ixFlaky(ctx context.Context, in string) error {
	return engine.NewApplicationError("CarrierDown", "carrier unavailable for "+in, false)
}

// ixSleeper sleeps an hour.
func ixSleeper(ctx engine.Context, in string) error { return engine.Sleep(ctx, time.Hour) }

// ixQuick completes at once: load for restart and kill tests.
func ixQuick(ctx engine.Context, in int) (int, error) {
	engine.SetProgress(ctx, int64(in%10), 10)
	return in * 2, nil
}
