package main

import (
	"context"

	"github.com/foremanhq/foreman/engine"
)

// The workflows measured. They are registered under these names in the
// in-process worker and (Blocked) in the RSS child worker.

// Noop is the no-op activity.
func Noop(ctx context.Context, i int) (int, error) { return i, nil }

// ThreeActs runs three no-op activities one after the other.
func ThreeActs(ctx engine.Context) (int, error) {
	sum := 0
	for i := range 3 {
		var r int
		if err := engine.ExecuteActivity(ctx, Noop, i+1).Get(ctx, &r); err != nil {
			return 0, err
		}
		sum += r
	}
	return sum, nil
}

// threeActsResult is what ThreeActs returns (checked once per mode).
const threeActsResult = 6

// WaitSignal blocks until it receives the signal "go", then completes with
// its payload.
func WaitSignal(ctx engine.Context) (int, error) {
	var v int
	engine.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return v, nil
}

// Blocked waits for a human approval that never comes.
func Blocked(ctx engine.Context) (bool, error) {
	d, err := engine.AwaitApproval(ctx, "go", engine.ApprovalOptions{Description: "benchmark: never decided"})
	return d.Approved, err
}
