package examples

import (
	"fmt"

	"github.com/foremanhq/foreman/engine"
)

// UpdateAmend is the update that changes an expense's amount while it
// waits for its approval.
const UpdateAmend = "amend"

// Amendment is the input of the amend update.
type Amendment struct {
	Amount float64 `json:"amount"`
	Reason string  `json:"reason,omitempty"`
}

// Amended is the amend update's result.
type Amended struct {
	ExpenseID string  `json:"expense_id"`
	Previous  float64 `json:"previous"`
	Amount    float64 `json:"amount"`
}

// allowAmend lets the submitter correct the amount of an expense that
// waits for a manager or director (`foreman update EXP-1 amend --input
// '{"amount": 1200}'`). The validator refuses, leaving no trace in
// history, an amount that is not positive, one that would drop the
// expense under the auto-approval limit (a human was already asked), and
// any amendment once the expense was decided; an accepted amendment
// changes what is paid and the searchable Amount.
func allowAmend(ctx engine.Context, in *ExpenseInput, decided *bool) error {
	return engine.SetUpdateHandler(ctx, UpdateAmend, func(ctx engine.Context, a Amendment) (Amended, error) {
		out := Amended{ExpenseID: in.ExpenseID, Previous: in.Amount, Amount: a.Amount}
		in.Amount = a.Amount
		if err := engine.UpsertSearchAttributes(ctx, map[string]engine.SearchAttribute{"Amount": engine.Float(a.Amount)}); err != nil {
			return Amended{}, err
		}
		return out, nil
	}, engine.UpdateHandlerOptions{Validator: func(ctx engine.Context, a Amendment) error {
		switch {
		case *decided:
			return fmt.Errorf("expense %s was already decided; it can no longer be amended", in.ExpenseID)
		case in.Amount <= ExpenseAutoApproveLimit:
			return fmt.Errorf("expense %s is paid without approval; there is nothing to amend", in.ExpenseID)
		case a.Amount <= 0:
			return fmt.Errorf("amount must be positive, got %v", a.Amount)
		case a.Amount <= ExpenseAutoApproveLimit:
			return fmt.Errorf("amount %.2f is under the auto-approval limit %d: withdraw the expense and submit a new one", a.Amount, ExpenseAutoApproveLimit)
		}
		return nil
	}})
}
