package jetstream

import (
	"context"
	"errors"
	"fmt"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// SchedulesBucket keeps the schedules (issue 17): key = schedule id (the
// engine restricts ids to letters, digits, _, - and inner dots, which are
// valid keys as they are), value = the engine's JSON record. Every write
// is revision-checked; the engines' schedulers and the action service are
// its only writers.
const SchedulesBucket = "fm_schedules"

var _ engine.ScheduleStore = (*Store)(nil)

// schedulesKV returns the schedules bucket, creating it on first use (the
// engine does at start-up, so that clients who may not create buckets find
// it).
func (s *Store) schedulesKV(ctx context.Context) (natsjs.KeyValue, error) {
	s.mu.Lock()
	kv := s.schedules
	s.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	kv, err := openBucket(ctx, s.nc, natsjs.KeyValueConfig{
		Bucket:      SchedulesBucket,
		Description: "Foreman schedules: id -> spec, action and fire state",
		History:     1,
		Storage:     natsjs.FileStorage,
		Replicas:    max(s.opts.Replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.schedules = kv
	s.mu.Unlock()
	return kv, nil
}

// EnsureSchedules creates the schedules bucket when absent.
func (s *Store) EnsureSchedules(ctx context.Context) error {
	_, err := s.schedulesKV(ctx)
	return err
}

// scheduleBucket checks id (it is the key as it is) and returns the
// bucket; verb names the operation in errors.
func (s *Store) scheduleBucket(ctx context.Context, verb, id string) (natsjs.KeyValue, string, error) {
	if err := engine.CheckScheduleID(id); err != nil {
		return nil, "", err
	}
	kv, err := s.schedulesKV(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("%s schedule %s: %w", verb, id, err)
	}
	return kv, id, nil
}

// CreateSchedule stores data under id only if absent.
func (s *Store) CreateSchedule(ctx context.Context, id string, data []byte) (uint64, error) {
	kv, key, err := s.scheduleBucket(ctx, "creating", id)
	if err != nil {
		return 0, err
	}
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
	defer cancel()
	rev, err := kv.Create(ctx, key, data)
	if errors.Is(err, natsjs.ErrKeyExists) {
		return 0, fmt.Errorf("creating schedule %s: %w", id, engine.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("creating schedule %s: %w", id, mapPublishError(err))
	}
	return rev, nil
}

// GetSchedule returns the record of id and its revision.
func (s *Store) GetSchedule(ctx context.Context, id string) ([]byte, uint64, error) {
	kv, key, err := s.scheduleBucket(ctx, "reading", id)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
	defer cancel()
	e, err := kv.Get(ctx, key)
	if errors.Is(err, natsjs.ErrKeyNotFound) || errors.Is(err, natsjs.ErrKeyDeleted) {
		return nil, 0, fmt.Errorf("schedule %s: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading schedule %s: %w", id, err)
	}
	return e.Value(), e.Revision(), nil
}

// UpdateSchedule replaces the record if its revision is still rev.
func (s *Store) UpdateSchedule(ctx context.Context, id string, data []byte, rev uint64) (uint64, error) {
	kv, key, err := s.scheduleBucket(ctx, "updating", id)
	if err != nil {
		return 0, err
	}
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
	defer cancel()
	nrev, err := kv.Update(ctx, key, data, rev)
	if errors.Is(err, natsjs.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
		return 0, fmt.Errorf("updating schedule %s at revision %d: %w", id, rev, engine.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("updating schedule %s: %w", id, mapPublishError(err))
	}
	return nrev, nil
}

// DeleteSchedule removes the record if its revision is still rev.
func (s *Store) DeleteSchedule(ctx context.Context, id string, rev uint64) error {
	kv, key, err := s.scheduleBucket(ctx, "deleting", id)
	if err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
	defer cancel()
	err = kv.Delete(ctx, key, natsjs.LastRevision(rev))
	if errors.Is(err, natsjs.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
		return fmt.Errorf("deleting schedule %s at revision %d: %w", id, rev, engine.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("deleting schedule %s: %w", id, mapPublishError(err))
	}
	return nil
}

// WatchSchedules calls fn with every record, then with each change (data
// nil for a delete), until ctx ends; caughtUp runs once the records that
// existed when the watch began were delivered.
func (s *Store) WatchSchedules(ctx context.Context, fn func(id string, data []byte, rev uint64), caughtUp func()) error {
	kv, err := s.schedulesKV(ctx)
	if err != nil {
		return fmt.Errorf("watching schedules: %w", err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watching schedules: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watching schedules: the watch ended")
			}
			if e == nil {
				if caughtUp != nil {
					caughtUp()
				}
				continue
			}
			if e.Operation() != natsjs.KeyValuePut {
				fn(e.Key(), nil, e.Revision())
				continue
			}
			fn(e.Key(), e.Value(), e.Revision())
		}
	}
}
