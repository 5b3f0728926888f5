package examples_test

import (
	"testing"

	"github.com/foremanhq/foreman/examples"
)

func TestOrderFulfillment(t *testing.T) {
	e := newEnv(t)
	e.start(t, "small", examples.OrderQueue, examples.OrderFulfillment, examples.OrderInput{OrderID: "1", Amount: 10})
	e.start(t, "large", examples.OrderQueue, examples.OrderFulfillment, examples.OrderInput{OrderID: "2", Amount: 1500})
	e.start(t, "declined", examples.OrderQueue, examples.OrderFulfillment, examples.OrderInput{OrderID: "3", Amount: 10, FailAt: "charge"})

	var tracking string
	e.mustResult(t, "small", &tracking)
	if tracking != "TRK-1" {
		t.Fatalf("small: %q", tracking)
	}
	e.waitForApproval(t, "large", "manager")
	if x := e.describe(t, "large"); x.StatusLine != "waiting for manager approval" {
		t.Fatalf("status line %q", x.StatusLine)
	}
	if err := e.as("manager-1").Decide(e.ctx, "large", "", "manager", false, "too expensive"); err != nil {
		t.Fatal(err)
	}
	var verdict string
	e.mustResult(t, "large", &verdict)
	if verdict != "order 2 rejected by manager-1" {
		t.Fatalf("large: %q", verdict)
	}
	wantAppError(t, e.result(t, "declined", nil), "CardDeclined")
}
