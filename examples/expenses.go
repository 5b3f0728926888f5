package examples

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// ExpenseQueue is the task queue of ExpenseApproval.
const ExpenseQueue = "approvals"

// ExpenseAutoApproveLimit is the largest amount paid without a human decision.
const ExpenseAutoApproveLimit = 1000

// DefaultManagerTimeout is how long a manager has to decide before the
// expense escalates to a director.
const DefaultManagerTimeout = 72 * time.Hour

// ExpenseInput is the input of ExpenseApproval.
type ExpenseInput struct {
	ExpenseID string  `json:"expense_id"`
	Amount    float64 `json:"amount"`
	Submitter string  `json:"submitter"`
	// ManagerTimeout overrides DefaultManagerTimeout (tests and the demo
	// shorten it to watch the escalation happen).
	ManagerTimeout Duration `json:"manager_timeout,omitempty"`
	// DirectorTimeout, when set, rejects the expense if the director does
	// not decide in time either. Unset, the director has as long as it takes.
	DirectorTimeout Duration `json:"director_timeout,omitempty"`
}

// ExpenseResult says what happened to an expense, and who decided.
type ExpenseResult struct {
	ExpenseID string `json:"expense_id"`
	// Outcome is "paid" or "rejected".
	Outcome string `json:"outcome"`
	// Level is who decided: "auto" (under the limit), "manager",
	// "director", or "expired" (nobody decided in time).
	Level     string `json:"level"`
	DecidedBy string `json:"decided_by,omitempty"`
	Comment   string `json:"comment,omitempty"`
	// Escalated is true when the manager did not decide in time.
	Escalated bool   `json:"escalated,omitempty"`
	PaymentID string `json:"payment_id,omitempty"`
	// Summary is the same, in one sentence.
	Summary string `json:"summary"`
}

// ExpenseApproval pays small expenses at once. Above
// ExpenseAutoApproveLimit it asks a human: first a manager (the approval
// named "manager"); if no manager decides within the timeout, a director
// (the approval named "director"). Approved expenses are paid, rejected
// ones notified to the submitter.
//
// AwaitApproval is durable: the request, its timeout and the decision (who,
// when, comment) are events in history, so the 72 hours can span any number
// of worker restarts, and operators see every waiting expense in the
// console's approvals inbox.
func ExpenseApproval(ctx engine.Context, in ExpenseInput) (ExpenseResult, error) {
	if err := in.validate(); err != nil {
		return ExpenseResult{}, err
	}
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	// Typed search attributes let operators find expenses by submitter or
	// amount ("Amount > 5000 AND Submitter = 'bob'").
	if err := engine.UpsertSearchAttributes(ctx, map[string]engine.SearchAttribute{
		"ExpenseID": engine.Keyword(in.ExpenseID), "Submitter": engine.Keyword(in.Submitter), "Amount": engine.Float(in.Amount),
	}); err != nil {
		return ExpenseResult{}, err
	}
	res := ExpenseResult{ExpenseID: in.ExpenseID, Level: "auto", DecidedBy: "policy", Outcome: "paid"}
	decided := false
	if err := allowAmend(ctx, &in, &decided); err != nil {
		return ExpenseResult{}, err
	}
	if in.Amount > ExpenseAutoApproveLimit {
		d, err := decide(ctx, in, &res)
		decided = true
		if err != nil {
			return ExpenseResult{}, err
		}
		if !d {
			res.Outcome = "rejected"
		}
	}
	engine.SetProgress(ctx, 1, 2)
	if res.Outcome == "paid" {
		engine.SetStatus(ctx, "paying")
		if err := engine.ExecuteActivity(ctx, PayExpense, in).Get(ctx, &res.PaymentID); err != nil {
			return ExpenseResult{}, err
		}
	} else {
		engine.SetStatus(ctx, "notifying the submitter")
		notice := RejectionNotice{ExpenseID: in.ExpenseID, Submitter: in.Submitter, By: res.DecidedBy, Comment: res.Comment}
		if err := engine.ExecuteActivity(ctx, NotifyRejection, notice).Get(ctx, nil); err != nil {
			return ExpenseResult{}, err
		}
	}
	res.Summary = res.summary(in.Amount)
	engine.SetProgress(ctx, 2, 2)
	engine.SetStatus(ctx, res.Summary)
	return res, nil
}

// decide waits for the manager, then for a director, and fills in who
// decided. It reports whether the expense is approved.
func decide(ctx engine.Context, in ExpenseInput, res *ExpenseResult) (bool, error) {
	managerTimeout := in.ManagerTimeout.or(DefaultManagerTimeout)
	engine.SetStatus(ctx, fmt.Sprintf("waiting for a manager (escalates to a director after %s)", managerTimeout))
	d, err := engine.AwaitApproval(ctx, "manager", engine.ApprovalOptions{
		Description: fmt.Sprintf("expense %s of %.2f by %s", in.ExpenseID, in.Amount, in.Submitter),
		Timeout:     managerTimeout,
		// four eyes: the engine refuses the submitter's own decision
		NotByField: "submitter",
	})
	if err == nil {
		res.Level, res.DecidedBy, res.Comment = "manager", d.By, d.Comment
		return d.Approved, nil
	}
	if !errors.Is(err, engine.ErrApprovalTimedOut) {
		return false, err // cancelled
	}

	// Nobody decided in time: escalate. The timed-out request stays in
	// history, so the escalation is visible and auditable.
	res.Escalated = true
	engine.SetStatus(ctx, fmt.Sprintf("escalated: no manager decided within %s; waiting for a director", managerTimeout))
	d, err = engine.AwaitApproval(ctx, "director", engine.ApprovalOptions{
		Description: fmt.Sprintf("escalated: expense %s of %.2f by %s (no manager decision in %s)", in.ExpenseID, in.Amount, in.Submitter, managerTimeout),
		Timeout:     time.Duration(in.DirectorTimeout),
		NotByField:  "submitter",
	})
	if errors.Is(err, engine.ErrApprovalTimedOut) {
		res.Level, res.DecidedBy, res.Comment = "expired", "policy", "no decision from a manager or a director in time"
		return false, nil
	}
	if err != nil {
		return false, err
	}
	res.Level, res.DecidedBy, res.Comment = "director", d.By, d.Comment
	return d.Approved, nil
}

func (in ExpenseInput) validate() error {
	var bad []string
	if in.ExpenseID == "" {
		bad = append(bad, "expense_id is required")
	}
	if in.Amount <= 0 {
		bad = append(bad, fmt.Sprintf("amount must be positive, got %v", in.Amount))
	}
	if in.Submitter == "" {
		bad = append(bad, "submitter is required")
	}
	if in.ManagerTimeout < 0 || in.DirectorTimeout < 0 {
		bad = append(bad, "timeouts must not be negative")
	}
	if len(bad) > 0 {
		// Non-retryable: the same input would fail the same way again.
		return engine.NewApplicationError("BadInput", "expense: "+strings.Join(bad, "; "), true)
	}
	return nil
}

func (r ExpenseResult) summary(amount float64) string {
	switch r.Level {
	case "auto":
		return fmt.Sprintf("expense %s of %.2f paid without approval (%s)", r.ExpenseID, amount, r.PaymentID)
	case "expired":
		return fmt.Sprintf("expense %s of %.2f rejected: %s", r.ExpenseID, amount, r.Comment)
	}
	verdict := "rejected"
	if r.Outcome == "paid" {
		verdict = "approved"
	}
	s := fmt.Sprintf("expense %s of %.2f %s by %s (%s)", r.ExpenseID, amount, verdict, r.DecidedBy, r.Level)
	if r.Escalated {
		s += " after escalation"
	}
	if r.Comment != "" {
		s += ": " + r.Comment
	}
	if r.PaymentID != "" {
		s += "; paid " + r.PaymentID
	}
	return s
}

// PayExpense pretends to pay the submitter and returns a payment id.
func PayExpense(ctx context.Context, in ExpenseInput) (string, error) {
	if err := pause(ctx, 150*time.Millisecond); err != nil {
		return "", err
	}
	return "PAY-" + in.ExpenseID, nil
}

// RejectionNotice is the input of NotifyRejection.
type RejectionNotice struct {
	ExpenseID string `json:"expense_id"`
	Submitter string `json:"submitter"`
	By        string `json:"by"`
	Comment   string `json:"comment,omitempty"`
}

// NotifyRejection pretends to tell the submitter why the expense was refused.
func NotifyRejection(ctx context.Context, n RejectionNotice) error {
	return pause(ctx, 100*time.Millisecond)
}
