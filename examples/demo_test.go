package examples_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

// The demo load's first seconds show every kind of state the console is
// for: a compensated order, an expense waiting for an operator, an
// ingestion retrying, a subscription sleeping until its next renewal.
func TestDemoLoad(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- examples.Demo(ctx, e.as("demo")) }()

	missing := func() error {
		seen := map[string]bool{}
		err := e.store.ListRuns(e.ctx, func(id string, _ engine.RunRecord) error {
			x, err := e.client.Describe(e.ctx, id, "")
			if err != nil {
				return nil // its first batch is being written
			}
			switch {
			case x.Type == "OrderFulfillment" && x.Status == engine.StatusCompensated:
				seen["compensated order"] = true
			case x.Type == "ExpenseApproval" && len(x.Approvals) == 1 && x.Approvals[0].Name == "manager":
				seen["expense waiting for a manager"] = true
			case x.Type == "DocumentIngestion" && retrying(x):
				seen["ingestion retrying"] = true
			case x.Type == "SubscriptionRenewal" && x.Status == engine.StatusRunning && len(x.Timers) == 1:
				seen["subscription sleeping"] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		var lacking []string
		for _, want := range []string{"compensated order", "expense waiting for a manager", "ingestion retrying", "subscription sleeping"} {
			if !seen[want] {
				lacking = append(lacking, want)
			}
		}
		sort.Strings(lacking)
		if len(lacking) > 0 {
			return fmt.Errorf("no %v yet", lacking)
		}
		return nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for err := missing(); err != nil; err = missing() {
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the demo load did not stop with its context")
	}
}

// retrying tells whether a run has an activity whose last attempt failed.
func retrying(x *engine.Execution) bool {
	for _, a := range x.Activities {
		if a.LastFailure != nil {
			return true
		}
	}
	return false
}
