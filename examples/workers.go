package examples

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/foremanhq/foreman/engine"
)

// Queues lists the task queues of the examples, one worker each.
var Queues = []string{OrderQueue, ExpenseQueue, IngestQueue, BillingQueue}

// registrations says which workflow and activities run on each queue.
// Activities run on their workflow's queue here; a real deployment may put
// them elsewhere (ActivityOptions.TaskQueue) to scale them apart.
var registrations = map[string]struct {
	workflow   any
	activities []any
	children   []any // child workflows the queue's workflow starts on it
}{
	OrderQueue:   {OrderFulfillment, []any{ReserveInventory, ReleaseInventory, ChargePayment, RefundPayment, Ship}, []any{Shipment}},
	ExpenseQueue: {ExpenseApproval, []any{PayExpense, NotifyRejection}, nil},
	IngestQueue:  {DocumentIngestion, []any{FetchDocument, ExtractChunk, IndexDocument}, nil},
	BillingQueue: {SubscriptionRenewal, []any{ChargeRenewal, ConfirmCancellation}, nil},
}

// WorkerShutdownTimeout is how long stopping the example workers lets
// in-flight tasks finish before handing them back to the queue.
const WorkerShutdownTimeout = 5 * time.Second

// StartWorkers starts one worker per example queue (see Queues) on store
// and returns a function that stops them all. log may be nil.
func StartWorkers(ctx context.Context, store engine.Store, log *slog.Logger) (stop func(), err error) {
	return StartWorkersWith(ctx, store, log, nil)
}

// StartWorkersWith is StartWorkers registering the workers' Prometheus
// metrics on metrics (nil: none; engine.WorkerOptions.MetricsRegisterer).
func StartWorkersWith(ctx context.Context, store engine.Store, log *slog.Logger, metrics prometheus.Registerer) (stop func(), err error) {
	return StartWorkersOptions(ctx, store, engine.WorkerOptions{Logger: log, MetricsRegisterer: metrics})
}

// StartWorkersOptions is StartWorkers with every worker's options (its
// logger, metrics and tracer provider; ShutdownTimeout defaults to
// WorkerShutdownTimeout).
func StartWorkersOptions(ctx context.Context, store engine.Store, opts engine.WorkerOptions) (stop func(), err error) {
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = WorkerShutdownTimeout
	}
	var started []*engine.Worker
	stop = func() { // in parallel: each may wait for its in-flight tasks
		var wg sync.WaitGroup
		for _, w := range started {
			wg.Go(w.Stop)
		}
		wg.Wait()
	}
	for _, q := range Queues {
		w := engine.NewWorker(store, q, opts)
		r := registrations[q]
		errs := []error{w.RegisterWorkflow(r.workflow)}
		for _, a := range r.activities {
			errs = append(errs, w.RegisterActivity(a))
		}
		for _, c := range r.children {
			errs = append(errs, w.RegisterWorkflow(c))
		}
		if err := errors.Join(errs...); err != nil {
			stop()
			return nil, fmt.Errorf("registering the examples on queue %s: %w", q, err)
		}
		if err := w.Start(ctx); err != nil {
			stop()
			return nil, fmt.Errorf("starting the worker of queue %s: %w", q, err)
		}
		started = append(started, w)
	}
	return stop, nil
}
