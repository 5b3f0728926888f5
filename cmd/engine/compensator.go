package main

import (
	"context"
	"log/slog"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
)

// startCompensator runs the worker of operator-started compensations (the
// activities they call run on the workers that registered them).
func startCompensator(ctx context.Context, store engine.Store, log *slog.Logger) (stop func(), err error) {
	w := engine.NewWorker(store, compensations.Queue, engine.WorkerOptions{Logger: log})
	if err := compensations.Register(w, engine.NewClient(store, engine.ClientOptions{Identity: "foreman-engine"})); err != nil {
		return nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	return w.Stop, nil
}
