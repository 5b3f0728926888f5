package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
)

// ServeQueries answers requests on fm.q.<queue>; the queue group spreads
// them over the queue's workers.
func (s *Store) ServeQueries(queue string, handler func(req []byte) []byte) (func(), error) {
	subj, err := querySubject(queue)
	if err != nil {
		return nil, fmt.Errorf("serving queries: %w", err)
	}
	sub, err := s.nc.QueueSubscribe(subj, queryQueueGroup, func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		if err := m.Respond(handler(m.Data)); err != nil {
			s.log.Warn("answering query", "queue", queue, "err", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("serving queries of %s: %w", queue, err)
	}
	// Make sure the server knows the subscription before a caller queries.
	if err := s.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("serving queries of %s: %w", queue, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Query sends req to one worker of queue and returns its answer;
// engine.ErrNoResponders when no worker serves the queue.
func (s *Store) Query(ctx context.Context, queue string, req []byte) ([]byte, error) {
	subj, err := querySubject(queue)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
	defer cancel()
	resp, err := s.nc.RequestWithContext(ctx, subj, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("query to task queue %s: %w", queue, engine.ErrNoResponders)
	}
	if err != nil {
		return nil, fmt.Errorf("query to task queue %s: %w", queue, err)
	}
	return resp.Data, nil
}

// PublishCancel broadcasts an activity-cancel notice on fm.cancel and
// flushes, so it has left this process when PublishCancel returns.
func (s *Store) PublishCancel(ctx context.Context, data []byte) error {
	if err := s.nc.Publish(cancelSubject, data); err != nil {
		return fmt.Errorf("publishing cancel: %w", err)
	}
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
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
