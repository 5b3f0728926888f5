package examples

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// BillingQueue is the task queue of SubscriptionRenewal.
const BillingQueue = "billing"

// SignalCancelSubscription ends a subscription cleanly; its payload is a
// CancelRequest (or nothing).
const SignalCancelSubscription = "cancel-subscription"

// Defaults of SubscriptionInput.
const (
	DefaultRenewalPeriod = 30 * 24 * time.Hour
	// DefaultRenewalsPerRun bounds a run's history: after that many
	// renewals the workflow continues as a new run with a fresh history.
	DefaultRenewalsPerRun = 12
	// MaxRenewalsPerRun bounds RenewalsPerRun (each renewal adds a handful of
	// events to the run's history).
	MaxRenewalsPerRun = 1000
)

// SubscriptionInput is the input of SubscriptionRenewal.
type SubscriptionInput struct {
	SubscriptionID string  `json:"subscription_id"`
	Customer       string  `json:"customer"`
	Plan           string  `json:"plan,omitempty"`
	Amount         float64 `json:"amount"`
	// Period is the time between renewals (default 30 days; the demo uses
	// seconds so renewals tick while you watch).
	Period Duration `json:"period,omitempty"`
	// MaxRenewals, when set, ends the subscription after that many renewals.
	MaxRenewals int `json:"max_renewals,omitempty"`
	// RenewalsPerRun overrides DefaultRenewalsPerRun.
	RenewalsPerRun int `json:"renewals_per_run,omitempty"`
	// Renewed counts the renewals of earlier runs; the workflow sets it
	// when it continues as new.
	Renewed int `json:"renewed,omitempty"`
	// LastInvoice is the newest invoice of earlier runs.
	LastInvoice string `json:"last_invoice,omitempty"`
}

// CancelRequest is the payload of the cancel-subscription signal.
type CancelRequest struct {
	Reason string `json:"reason,omitempty"`
}

// SubscriptionResult is the result of SubscriptionRenewal.
type SubscriptionResult struct {
	SubscriptionID string `json:"subscription_id"`
	Renewals       int    `json:"renewals"`
	LastInvoice    string `json:"last_invoice,omitempty"`
	// Ended is "canceled" or "completed" (MaxRenewals reached).
	Ended  string `json:"ended"`
	Reason string `json:"reason,omitempty"`
}

// SubscriptionRenewal charges a subscription every period until it is
// cancelled with the "cancel-subscription" signal (or MaxRenewals is
// reached). The wait between renewals is a durable timer: a month-long
// sleep costs nothing while it lasts and survives every restart. A
// subscription lives for years, so every RenewalsPerRun renewals the
// workflow continues as new: same workflow id, fresh history, state passed
// in the input, pending signals carried over.
func SubscriptionRenewal(ctx engine.Context, in SubscriptionInput) (SubscriptionResult, error) {
	if err := in.validate(); err != nil {
		return SubscriptionResult{}, err
	}
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Hour},
	})
	period := in.Period.or(DefaultRenewalPeriod)
	perRun := in.RenewalsPerRun
	if perRun <= 0 {
		perRun = DefaultRenewalsPerRun
	}
	cancelCh := engine.GetSignalChannel(ctx, SignalCancelSubscription)
	res := SubscriptionResult{SubscriptionID: in.SubscriptionID, Renewals: in.Renewed, LastInvoice: in.LastInvoice}

	for renewedHere := 0; ; {
		if in.MaxRenewals > 0 {
			engine.SetProgress(ctx, int64(res.Renewals), int64(in.MaxRenewals))
			if res.Renewals >= in.MaxRenewals {
				res.Ended = "completed"
				engine.SetStatus(ctx, fmt.Sprintf("ended after %d renewal(s)", res.Renewals))
				return res, nil
			}
		}
		if renewedHere == perRun {
			// Keep the history short: this run closes and a new one
			// continues from here with the counters in its input.
			next := in
			next.Renewed, next.LastInvoice = res.Renewals, res.LastInvoice
			return SubscriptionResult{}, engine.NewContinueAsNewError(ctx, next)
		}

		// Sleep until the next renewal, or until a cancel request.
		due := engine.Now(ctx).Add(period)
		engine.SetStatus(ctx, fmt.Sprintf("active, renewed %d times; next renewal %s", res.Renewals, due.UTC().Format(time.RFC3339)))
		timerCtx, stopTimer := engine.WithCancel(ctx)
		var req *CancelRequest
		var timerErr error
		engine.NewSelector(ctx).
			AddReceive(cancelCh, func(c engine.Channel, _ bool) {
				var raw json.RawMessage // decoded by hand: a malformed payload must not wedge the run
				c.Receive(ctx, &raw)
				req = parseCancelRequest(raw)
			}).
			AddFuture(engine.NewTimer(timerCtx, period), func(f engine.Future) { timerErr = f.Get(ctx, nil) }).
			Select(ctx)
		stopTimer() // records the timer's cancellation if the signal won
		if timerErr != nil {
			return res, timerErr // the workflow was cancelled
		}
		if req != nil {
			return cancelSubscription(ctx, in, res, req.Reason)
		}

		engine.SetStatus(ctx, fmt.Sprintf("charging renewal %d", res.Renewals+1))
		charge := RenewalCharge{SubscriptionID: in.SubscriptionID, Customer: in.Customer, Amount: in.Amount, Number: res.Renewals + 1}
		if err := engine.ExecuteActivity(ctx, ChargeRenewal, charge).Get(ctx, &res.LastInvoice); err != nil {
			return res, err
		}
		res.Renewals++
		renewedHere++
	}
}

// parseCancelRequest reads the cancel signal's payload: a CancelRequest, a
// bare reason string, or nothing.
func parseCancelRequest(raw json.RawMessage) *CancelRequest {
	var req CancelRequest
	if len(raw) == 0 || json.Unmarshal(raw, &req) == nil {
		return &req
	}
	if json.Unmarshal(raw, &req.Reason) == nil {
		return &req
	}
	return &CancelRequest{Reason: "canceled on request (unreadable payload " + truncate(string(raw), 80) + ")"}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// cancelSubscription confirms a cancellation to the customer and ends the run.
func cancelSubscription(ctx engine.Context, in SubscriptionInput, res SubscriptionResult, reason string) (SubscriptionResult, error) {
	if reason == "" {
		reason = "canceled on request"
	}
	engine.SetStatus(ctx, "canceling: "+reason)
	notice := CancelNotice{SubscriptionID: in.SubscriptionID, Customer: in.Customer, Reason: reason}
	if err := engine.ExecuteActivity(ctx, ConfirmCancellation, notice).Get(ctx, nil); err != nil {
		return res, err
	}
	res.Ended, res.Reason = "canceled", reason
	engine.SetStatus(ctx, fmt.Sprintf("canceled after %d renewal(s): %s", res.Renewals, reason))
	return res, nil
}

func (in SubscriptionInput) validate() error {
	var bad []string
	if in.SubscriptionID == "" {
		bad = append(bad, "subscription_id is required")
	}
	if in.Amount <= 0 {
		bad = append(bad, fmt.Sprintf("amount must be positive, got %v", in.Amount))
	}
	if in.Period < 0 || in.MaxRenewals < 0 || in.RenewalsPerRun < 0 || in.Renewed < 0 {
		bad = append(bad, "period, max_renewals, renewals_per_run and renewed must not be negative")
	}
	if in.RenewalsPerRun > MaxRenewalsPerRun {
		bad = append(bad, fmt.Sprintf("renewals_per_run is %d, over %d: a run's history must stay short", in.RenewalsPerRun, MaxRenewalsPerRun))
	}
	if len(bad) > 0 {
		return engine.NewApplicationError("BadInput", "subscription: "+strings.Join(bad, "; "), true)
	}
	return nil
}

// RenewalCharge is the input of ChargeRenewal.
type RenewalCharge struct {
	SubscriptionID string  `json:"subscription_id"`
	Customer       string  `json:"customer"`
	Amount         float64 `json:"amount"`
	Number         int     `json:"number"`
}

// ChargeRenewal pretends to charge one renewal and returns the invoice id.
// The invoice id derives from the renewal number, so a retried charge is
// recognisably the same one (an idempotency key in a real payment API).
func ChargeRenewal(ctx context.Context, c RenewalCharge) (string, error) {
	if err := pause(ctx, 100*time.Millisecond); err != nil {
		return "", err
	}
	return fmt.Sprintf("INV-%s-%d", c.SubscriptionID, c.Number), nil
}

// CancelNotice is the input of ConfirmCancellation.
type CancelNotice struct {
	SubscriptionID string `json:"subscription_id"`
	Customer       string `json:"customer"`
	Reason         string `json:"reason"`
}

// ConfirmCancellation pretends to email the customer.
func ConfirmCancellation(ctx context.Context, n CancelNotice) error {
	return pause(ctx, 100*time.Millisecond)
}
