package examples_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

func TestExpenseAmendedBeforeApproval(t *testing.T) {
	e := newEnv(t)
	id := "expense-A1"
	e.start(t, id, examples.ExpenseQueue, examples.ExpenseApproval, examples.ExpenseInput{ExpenseID: "A1", Amount: 1500, Submitter: "bob"})
	e.waitForApproval(t, id, "manager")
	before := e.history(t, id)
	for _, bad := range []float64{-5, 300} {
		_, err := e.client.Update(e.ctx, id, "", examples.UpdateAmend, examples.Amendment{Amount: bad}, engine.UpdateOptions{})
		if !errors.Is(err, engine.ErrUpdateRejected) {
			t.Fatalf("amend to %v: got %v, want a rejection", bad, err)
		}
	}
	if after := e.history(t, id); !reflect.DeepEqual(before, after) {
		t.Fatalf("rejected amendments changed history (%d -> %d events)", len(before), len(after))
	}
	res, err := e.client.Update(e.ctx, id, "", examples.UpdateAmend, examples.Amendment{Amount: 1200, Reason: "typo"}, engine.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var am examples.Amended
	if err := res.Get(&am); err != nil || am != (examples.Amended{ExpenseID: "A1", Previous: 1500, Amount: 1200}) {
		t.Fatalf("amended %+v, %v", am, err)
	}
	if x := e.describe(t, id); x.SearchAttributes["Amount"].Value != 1200.0 {
		t.Fatalf("searchable Amount %+v, want 1200", x.SearchAttributes["Amount"])
	}
	if err := e.as("alice").Decide(e.ctx, id, "", "manager", true, "ok"); err != nil {
		t.Fatal(err)
	}
	var out examples.ExpenseResult
	e.mustResult(t, id, &out)
	if !strings.Contains(out.Summary, "expense A1 of 1200.00 approved by alice") {
		t.Fatalf("summary %q: the amended amount is not the one paid", out.Summary)
	}
	_, err = e.client.Update(e.ctx, id, "", examples.UpdateAmend, examples.Amendment{Amount: 1300}, engine.UpdateOptions{})
	if !errors.Is(err, engine.ErrRunClosed) {
		t.Fatalf("amend after the decision: got %v, want ErrRunClosed", err)
	}
}
