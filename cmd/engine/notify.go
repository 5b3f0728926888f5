package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/foremanhq/foreman/internal/notify"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// newNotifier opens the notification buckets (the engine alone writes
// them; every role but worker reads them) and returns the service that
// keeps the rules — which the action service serves as the notify-*
// actions — and evaluates them once runNotifier starts it.
func newNotifier(ctx context.Context, node *jetstream.Node, replicas int, every time.Duration, log *slog.Logger) (*notify.Service, error) {
	b, err := jetstream.OpenNotify(ctx, node.Conn, replicas)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	// Rules are evaluated through the search API: with several engines,
	// any engine's index answers (they hold the same runs).
	search := searchapi.NewClient(node.Store)
	return notify.New(notify.Options{Store: b, Search: search.Search, Publish: node.Conn.Publish, Interval: every,
		Engine: host + "/" + node.Conn.ConnectedServerId(), Log: log}), nil
}

// runNotifier evaluates the rules until stop is called.
func runNotifier(ctx context.Context, svc *notify.Service, every time.Duration, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	log.Info("notification rules evaluated", "every", every, "manage", "foreman notify -h")
	return func() { cancel(); <-done }
}
