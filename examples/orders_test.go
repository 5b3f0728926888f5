package examples_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func TestOrderFulfillment(t *testing.T) {
	store, _ := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = engine.RunServices(ctx, store, nil) }()
	w := engine.NewWorker(store, examples.OrderQueue, engine.WorkerOptions{ShutdownTimeout: time.Second})
	if err := examples.Register(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c := engine.NewClient(store, engine.ClientOptions{Identity: "manager-1"})
	start := func(id string, in examples.OrderInput) {
		if _, err := c.Start(ctx, engine.StartOptions{ID: id, TaskQueue: examples.OrderQueue}, examples.OrderFulfillment, in); err != nil {
			t.Fatal(err)
		}
	}
	start("small", examples.OrderInput{OrderID: "1", Amount: 10})
	start("large", examples.OrderInput{OrderID: "2", Amount: 1500})
	start("declined", examples.OrderInput{OrderID: "3", Amount: 10, FailAt: "charge"})

	var tracking string
	if err := c.GetResult(ctx, "small", "", &tracking); err != nil || tracking != "TRK-1" {
		t.Fatalf("small: %q %v", tracking, err)
	}
	for {
		x, err := c.Describe(ctx, "large", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Approvals) == 1 {
			if x.StatusLine != "waiting for manager approval" {
				t.Fatalf("status line %q", x.StatusLine)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Decide(ctx, "large", "", "manager", false, "too expensive"); err != nil {
		t.Fatal(err)
	}
	var verdict string
	if err := c.GetResult(ctx, "large", "", &verdict); err != nil || verdict != "order 2 rejected by manager-1" {
		t.Fatalf("large: %q %v", verdict, err)
	}
	err := c.GetResult(ctx, "declined", "", nil)
	var app *engine.ApplicationError
	if !errors.As(err, &app) || app.Type != "CardDeclined" {
		t.Fatalf("declined: %v", err)
	}
}
