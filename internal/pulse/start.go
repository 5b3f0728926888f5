package pulse

import (
	"context"
	"log/slog"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Start serves the engine's health figures (the console's :pulse and
// :queues) from the counters the indexer feeds, the index, the task
// queues and the worker directory it watches.
func Start(ctx context.Context, counters *Counters, ix *visibility.Index, store *jetstream.Store, log *slog.Logger) (stop func(), err error) {
	svc := NewService(Sources{
		Counters: counters,
		Count: func(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error) {
			res, err := ix.Count(ctx, req)
			if err != nil {
				return searchapi.CountResult{}, err
			}
			return *res, nil
		},
		Lag: func(ctx context.Context) (searchapi.Lag, error) {
			lag, err := ix.Lag(ctx, store)
			if err != nil {
				return searchapi.Lag{}, err
			}
			return *lag, nil
		},
		Backlog: func(ctx context.Context) ([]engine.QueueBacklog, error) { return store.TaskBacklog(ctx, 200) },
		Workers: store,
		Log:     log,
	})
	stopServe, err := svc.Serve(store)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(wctx) }()
	return func() { stopServe(); cancel(); <-done }, nil
}
