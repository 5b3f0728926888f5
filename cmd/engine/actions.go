package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/actwire"
	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
)

// startActions makes this engine the one that appends operator events
// (store signs them: run enabled its signing first), keeps the audit
// trail, and answers fm.api.act.<user>.<action> (rules keeps the
// notification rules the notify-* actions change).
func startActions(ctx context.Context, store *jetstream.Store, dir auth.Directory, retention time.Duration, log *slog.Logger, rules operator.Rules) (stop func(), err error) {
	if err := store.EnableAudit(ctx, retention); err != nil {
		return nil, err
	}
	svc := &operator.Service{Catalog: operator.Default, Client: engine.NewClient(store, engine.ClientOptions{Identity: "foreman-engine"}),
		Directory: dir, Audit: store, Log: log, Rules: rules}
	stop, err = store.ServeActions(svc.Handle)
	if err != nil {
		return nil, err
	}
	log.Info("serving operator actions", "subject", actwire.ServeSubject, "audit_retention", retention)
	return stop, nil
}
