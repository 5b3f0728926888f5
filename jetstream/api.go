package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/actwire"
)

// Request/reply APIs served by foreman-engine over core NATS (the search
// API of the visibility package): no persistence, one answer per request
// from one of the engines serving the subject.

// apiQueueGroup spreads requests over every engine serving a subject.
const apiQueueGroup = "foreman-engine"

func checkAPISubject(subject string) error {
	if subject == "" || strings.ContainsAny(subject, " \t\r\n*>") {
		return fmt.Errorf("%w: API subject %q: want a literal subject", ErrInvalidName, subject)
	}
	return nil
}

// ServeAPI answers requests on subject with handler until stop is called.
// Engines serving the same subject share the requests (a queue group).
// Each request runs in its own goroutine (at most 64 at once) with a
// context that ends when the requester stops waiting; stop waits for
// running handlers. Each subject is a micro service named foreman-api.
func (s *Store) ServeAPI(subject string, handler func(ctx context.Context, req []byte) []byte) (func(), error) {
	if err := checkAPISubject(subject); err != nil {
		return nil, fmt.Errorf("serving API: %w", err)
	}
	return s.serveRequests("foreman-api", subject, apiQueueGroup, bySubject(handler))
}

// bySubject adapts a handler that does not need the request's subject.
func bySubject(h func(ctx context.Context, req []byte) []byte) func(context.Context, string, []byte) []byte {
	return func(ctx context.Context, _ string, req []byte) []byte { return h(ctx, req) }
}

// ServeActions answers operator actions on fm.api.act.<user>.<action>
// (every user, every action) with handler, which gets the subject: its
// <user> token is who NATS authenticated (permissions pin each user to
// their own), so the engine takes it as the principal.
func (s *Store) ServeActions(handler func(ctx context.Context, subject string, req []byte) []byte) (func(), error) {
	return s.serveRequests("foreman-act", actwire.ServeSubject, apiQueueGroup, handler)
}

// Request sends req to one engine serving subject and returns its answer.
// When no engine serves it, the error wraps engine.ErrNoResponders and
// says so. A context without deadline gets 10 s.
func (s *Store) Request(ctx context.Context, subject string, req []byte) ([]byte, error) {
	if err := checkAPISubject(subject); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	resp, err := s.request(ctx, subject, req, replyDefaultTimeout)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("%s: %w: nobody serves it on this NATS server (is foreman-engine running?)", subject, engine.ErrNoResponders)
	}
	if err != nil {
		return nil, fmt.Errorf("request to %s: %w", subject, err)
	}
	return resp, nil
}

// Publish sends a notice on subject (no persistence, no answer).
func (s *Store) Publish(subject string, data []byte) error {
	if err := checkAPISubject(subject); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := s.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("publishing on %s: %w", subject, err)
	}
	return nil
}

// Subscribe calls fn with every notice published on subject until stop is
// called.
func (s *Store) Subscribe(subject string, fn func(data []byte)) (func(), error) {
	if err := checkAPISubject(subject); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return s.subscribeFlushed(subject, func(m *nats.Msg) { fn(m.Data) })
}

// subscribeFlushed subscribes handler to subject and returns once the
// server has the subscription, with the function that ends it.
func (s *Store) subscribeFlushed(subject string, handler nats.MsgHandler) (func(), error) {
	sub, err := s.nc.Subscribe(subject, handler)
	if err != nil {
		return nil, fmt.Errorf("subscribing to %s: %w", subject, err)
	}
	if err := s.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribing to %s: %w", subject, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
