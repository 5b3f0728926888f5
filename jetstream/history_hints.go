package jetstream

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/auth"
)

// Hints of a run's appends: a waiter for a run's result subscribes (core
// NATS, no JetStream consumer) to the run's history subject and sees each
// batch as it is published, body included, a moment before the shared
// reader of history headers (FollowHistoryHeaders) tells the batch was
// stored. What it sees is only what someone published: the stream may
// have refused it (an append that lost a race). engine.BatchHeader.Sum
// lets the waiter trust a copy: only one whose digest is the stored
// batch's Sum. It saves the read of the closing batch (a round trip to
// the server, at the moment the run's close keeps every part busy).

// hintsOff holds the connections that may not subscribe to history
// subjects (their role's permissions: only admin and unauthenticated
// connections may), so waits there read the closing batch instead.
var hintsOff sync.Map // *nats.Conn -> struct{}

// noHintsFor records, at connect, that creds name a role whose
// permissions refuse history subscriptions (perms.go).
func noHintsFor(nc *nats.Conn, creds string) {
	if creds == "" {
		return
	}
	if r := CredsRole(creds); r != "" && r != auth.Admin {
		hintsOff.Store(nc, struct{}{})
	}
}

// hintDenied tells whether err is the server refusing a subscription to
// a history subject (a hint's): then nc stops asking, and the refusal
// is not reported as an operation's (it cost no operation anything).
func hintDenied(nc *nats.Conn, err error) bool {
	if !errors.Is(err, nats.ErrPermissionViolation) ||
		!strings.Contains(strings.ToLower(err.Error()), `subscription to "`+historySubjectPrefix) {
		return false
	}
	hintsOff.Store(nc, struct{}{})
	return true
}

// ErrNoHints: this connection does not see appends as published.
var ErrNoHints = errors.New("this connection may not follow history subjects")

// WatchAppends calls fn with each batch published on the run's history
// subject from now on (Seq 0, Time zero: not stored yet, maybe never),
// from one goroutine, until stop is called; ErrNoHints when the
// connection's permissions do not allow it. behind tells whether a batch
// this connection received is still on its way to fn: a message the
// connection read after it (the shared reader's header of the stored
// batch, on the same connection) may otherwise overtake it.
func (s *Store) WatchAppends(runID string, fn func(engine.StoredBatch)) (stop func(), behind func() bool, err error) {
	if _, off := hintsOff.Load(s.nc); off {
		return nil, nil, ErrNoHints
	}
	subj, _, err := s.lay.historySubject(runID)
	if err != nil {
		return nil, nil, fmt.Errorf("watching appends: %w", err)
	}
	sub, err := s.nc.Subscribe(subj, func(m *nats.Msg) {
		h, err := decodeBatchHeader(m.Header)
		if err != nil {
			return // not a batch foreman wrote
		}
		fn(engine.StoredBatch{Header: h, Data: m.Data})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("watching appends of run %s: %w", runID, err)
	}
	behind = func() bool {
		// nats.go counts a message pending until its callback returned
		n, _, err := sub.Pending()
		return err == nil && n > 0
	}
	return func() { _ = sub.Unsubscribe() }, behind, nil
}
