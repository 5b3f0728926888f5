package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
)

// ServeQueries answers requests on fm.q.<queue>; the queue group spreads
// them over the queue's workers. Requests are answered concurrently (see
// serveRequests), as the micro service foreman-query.
func (s *Store) ServeQueries(queue string, handler func(req []byte) []byte) (func(), error) {
	return s.ServeQueriesContext(queue, func(_ context.Context, req []byte) []byte { return handler(req) })
}

// ServeQueriesContext is ServeQueries with a context per request that ends
// when the requester stops waiting (engine.QueryServer).
func (s *Store) ServeQueriesContext(queue string, handler func(ctx context.Context, req []byte) []byte) (func(), error) {
	subj, err := querySubject(queue)
	if err != nil {
		return nil, fmt.Errorf("serving queries: %w", err)
	}
	stop, err := s.serveRequests("foreman-query", subj, queryQueueGroup, bySubject(handler))
	if err != nil {
		return nil, fmt.Errorf("serving queries of %s: %w", queue, err)
	}
	return stop, nil
}

// Query sends req to one worker of queue and returns its answer;
// engine.ErrNoResponders when no worker serves the queue. A context
// without deadline gets 5 s.
func (s *Store) Query(ctx context.Context, queue string, req []byte) ([]byte, error) {
	subj, err := querySubject(queue)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	resp, err := s.request(ctx, subj, req, defaultTimeout)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("query to task queue %s: %w", queue, engine.ErrNoResponders)
	}
	if err != nil {
		return nil, fmt.Errorf("query to task queue %s: %w", queue, err)
	}
	return resp, nil
}

// PublishCancel broadcasts an activity-cancel notice on fm.cancel and
// flushes, so it has left this process when PublishCancel returns.
func (s *Store) PublishCancel(ctx context.Context, data []byte) error {
	if err := s.nc.Publish(cancelSubject, data); err != nil {
		return fmt.Errorf("publishing cancel: %w", err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("publishing cancel: %w", err)
	}
	return nil
}

// SubscribeCancels calls fn for every cancel notice until stop is called.
func (s *Store) SubscribeCancels(fn func(data []byte)) (func(), error) {
	sub, err := s.nc.Subscribe(cancelSubject, func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribing to cancels: %w", err)
	}
	if err := s.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribing to cancels: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
