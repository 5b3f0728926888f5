package jetstream

import (
	"context"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// The store's publishes are what the engine's throughput rests on: their
// latency and errors are a metric (engine.ObserveStore). Unobserved, a
// publish costs one atomic load more.

// ObservePublishes calls fn after each history append ("history") and
// task publish ("task") with its round trip and error; it replaces the
// previous fn (engine.PublishObserved).
func (s *Store) ObservePublishes(fn func(op string, took time.Duration, err error)) {
	s.pubObs.Store(&fn)
}

// AppendHistory appends one batch to a run's history (appendHistory),
// observed.
func (s *Store) AppendHistory(ctx context.Context, h engine.BatchHeader, data []byte, expectedSeq uint64, msgID string) (uint64, error) {
	o := s.pubObs.Load()
	if o == nil {
		return s.appendHistory(ctx, h, data, expectedSeq, msgID)
	}
	began := time.Now()
	seq, err := s.appendHistory(ctx, h, data, expectedSeq, msgID)
	(*o)("history", time.Since(began), err)
	return seq, err
}

// PublishTask stores a task (publishTask), observed.
func (s *Store) PublishTask(ctx context.Context, kind engine.TaskKind, queue string, data []byte, msgID string) error {
	o := s.pubObs.Load()
	if o == nil {
		return s.publishTask(ctx, kind, queue, data, msgID)
	}
	began := time.Now()
	err := s.publishTask(ctx, kind, queue, data, msgID)
	(*o)("task", time.Since(began), err)
	return err
}
