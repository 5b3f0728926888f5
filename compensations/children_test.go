package compensations_test

import (
	"slices"
	"testing"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
)

// trip reserves (registering UndoReserve), then starts a child that holds
// (registering UndoReserve and UndoCharge of its own) and waits for it.
func trip(ctx engine.Context, id string) (string, error) {
	ctx = engine.WithActivityOptions(ctx, quick)
	var out string
	if err := engine.ExecuteActivity(ctx, "Reserve", id).Get(ctx, &out); err != nil {
		return "", err
	}
	if err := compensations.Add(ctx, "UndoReserve", out); err != nil {
		return "", err
	}
	return "", engine.ExecuteChildWorkflow(ctx, "Hold", id+"-leg", engine.ChildWorkflowOptions{ID: id + "-leg"}).Get(ctx, nil)
}

// Compensating a parent runs the parent's own plan; its children are
// runs of their own (terminated here by their parent close policy), each
// compensated on its own.
func TestCompensatingAParentLeavesItsChildren(t *testing.T) {
	e := newEnv(t)
	j := &journal{}
	e.worker("orders", func(w *engine.Worker) error {
		if err := w.RegisterWorkflowWithName("Hold", hold); err != nil {
			return err
		}
		if err := w.RegisterWorkflowWithName("Trip", trip); err != nil {
			return err
		}
		return registerActivities(w, j.activities(nil))
	})
	e.worker("payments", func(w *engine.Worker) error { return registerActivities(w, j.activities(nil)) })
	e.worker(compensations.Queue, func(w *engine.Worker) error { return compensations.Register(w, e.client) })
	if _, err := e.client.Start(e.ctx, engine.StartOptions{ID: "t-1", TaskQueue: "orders"}, "Trip", "t-1"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if x, _ := e.client.Describe(e.ctx, "t-1-leg", ""); x != nil && x.StatusLine == "waiting for the warehouse" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never reached its wait")
		}
	}
	if err := e.client.Terminate(e.ctx, "t-1", "", "trip cancelled"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("t-1-leg", engine.StatusTerminated) // the parent close policy

	plan, err := compensations.PlanOf(e.ctx, e.client, "t-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Pending()) != 1 || plan.Steps[0].Activity != "UndoReserve" {
		t.Fatalf("the parent's plan holds its own steps only: %+v", plan)
	}
	if _, err := compensations.Run(e.ctx, e.client, "t-1", "", "refund the trip"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("t-1", engine.StatusCompensated)
	if x, _ := e.client.Describe(e.ctx, "t-1-leg", ""); x.Status != engine.StatusTerminated {
		t.Fatalf("the child is %s after its parent's compensation", x.Status)
	}
	if _, err := compensations.Run(e.ctx, e.client, "t-1-leg", "", "refund the leg"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("t-1-leg", engine.StatusCompensated)
	want := []string{"Reserve:t-1", "Reserve:t-1-leg", "Charge:t-1-leg", "UndoReserve:Reserve-ok", "UndoCharge:Charge-ok", "UndoReserve:Reserve-ok"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}
