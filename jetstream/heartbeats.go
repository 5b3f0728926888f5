package jetstream

import (
	"context"
	"errors"
	"fmt"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// PutHeartbeat stores the newest heartbeat of key (KV fm_heartbeats).
func (s *Store) PutHeartbeat(ctx context.Context, key string, data []byte) error {
	if err := checkDottedKey("heartbeat key", key); err != nil {
		return fmt.Errorf("putting heartbeat: %w", err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout) // a dead leader never answers
	defer cancel()
	if _, err := s.heartbeats.Put(ctx, key, data); err != nil {
		return fmt.Errorf("putting heartbeat %s: %w", key, mapPublishError(err))
	}
	return nil
}

// GetHeartbeat returns the newest heartbeat of key, or engine.ErrNotFound.
func (s *Store) GetHeartbeat(ctx context.Context, key string) ([]byte, error) {
	if err := checkDottedKey("heartbeat key", key); err != nil {
		return nil, fmt.Errorf("reading heartbeat: %w", err)
	}
	e, err := s.heartbeats.Get(ctx, key)
	if errors.Is(err, natsjs.ErrKeyNotFound) || errors.Is(err, natsjs.ErrKeyDeleted) {
		return nil, fmt.Errorf("heartbeat %s: %w", key, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading heartbeat %s: %w", key, err)
	}
	return e.Value(), nil
}

// DeleteHeartbeat removes key. It purges with a marker that expires after a
// minute, so finished attempts leave nothing behind for long.
func (s *Store) DeleteHeartbeat(ctx context.Context, key string) error {
	if err := checkDottedKey("heartbeat key", key); err != nil {
		return fmt.Errorf("deleting heartbeat: %w", err)
	}
	if err := s.heartbeats.Purge(ctx, key, natsjs.PurgeTTL(heartbeatMarkerTTL)); err != nil {
		return fmt.Errorf("deleting heartbeat %s: %w", key, err)
	}
	return nil
}

// WatchHeartbeats calls fn with every current heartbeat, then with each
// update (data nil for a delete), until ctx ends (returning ctx.Err()).
func (s *Store) WatchHeartbeats(ctx context.Context, fn func(key string, data []byte)) error {
	return watchBucket(ctx, s.heartbeats, "heartbeats", fn)
}

// watchBucket calls fn with every current value of kv, then with each
// update (data nil for a delete or an expiry), until ctx ends (returning
// ctx.Err()). Deletes met while listing the current values are skipped:
// their keys are simply not there.
func watchBucket(ctx context.Context, kv natsjs.KeyValue, what string, fn func(key string, data []byte)) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("watching %s: %w", what, err)
	}
	defer w.Stop()
	initial := true
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("watching %s: watcher stopped", what)
			}
			if e == nil {
				initial = false
				continue
			}
			if e.Operation() != natsjs.KeyValuePut {
				if !initial {
					fn(e.Key(), nil)
				}
				continue
			}
			fn(e.Key(), e.Value())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
