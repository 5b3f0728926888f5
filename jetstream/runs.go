package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// CreateRun stores rec under workflowID (KV fm_runs, key base64url of the
// id) only if absent.
func (s *Store) CreateRun(ctx context.Context, workflowID string, rec engine.RunRecord) (uint64, error) {
	key, err := runKey(workflowID)
	if err != nil {
		return 0, fmt.Errorf("creating run record: %w", err)
	}
	val, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("creating run record of %q: %w", workflowID, err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout) // a dead leader never answers
	defer cancel()
	rev, err := s.runs.Create(ctx, key, val)
	if errors.Is(err, natsjs.ErrKeyExists) {
		return 0, fmt.Errorf("creating run record of %q: %w", workflowID, engine.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("creating run record of %q: %w", workflowID, mapPublishError(err))
	}
	return rev, nil
}

// GetRun returns the record of workflowID and its revision.
func (s *Store) GetRun(ctx context.Context, workflowID string) (engine.RunRecord, uint64, error) {
	var rec engine.RunRecord
	key, err := runKey(workflowID)
	if err != nil {
		return rec, 0, fmt.Errorf("reading run record: %w", err)
	}
	e, err := s.runs.Get(ctx, key)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return rec, 0, fmt.Errorf("run record of %q: %w", workflowID, engine.ErrNotFound)
	}
	if err != nil {
		return rec, 0, fmt.Errorf("reading run record of %q: %w", workflowID, err)
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return rec, 0, fmt.Errorf("decoding run record of %q (revision %d): %w", workflowID, e.Revision(), err)
	}
	return rec, e.Revision(), nil
}

// ReplaceRun overwrites the record if its revision is still rev.
func (s *Store) ReplaceRun(ctx context.Context, workflowID string, rec engine.RunRecord, rev uint64) (uint64, error) {
	key, err := runKey(workflowID)
	if err != nil {
		return 0, fmt.Errorf("replacing run record: %w", err)
	}
	val, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("replacing run record of %q: %w", workflowID, err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout) // a dead leader never answers
	defer cancel()
	nrev, err := s.runs.Update(ctx, key, val, rev)
	if errors.Is(err, natsjs.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
		return 0, fmt.Errorf("replacing run record of %q at revision %d: %w", workflowID, rev, engine.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("replacing run record of %q: %w", workflowID, mapPublishError(err))
	}
	return nrev, nil
}

// ListRuns calls fn for every record, reading them all through one watcher
// (no per-key round trip). It stops at fn's first error and returns it.
func (s *Store) ListRuns(ctx context.Context, fn func(workflowID string, rec engine.RunRecord) error) error {
	w, err := s.runs.WatchAll(ctx, natsjs.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("listing runs: %w", err)
	}
	defer w.Stop()
	for {
		var e natsjs.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return fmt.Errorf("listing runs: %w", ctx.Err())
		}
		if e == nil {
			return nil // every current record seen
		}
		id, err := workflowIDFromKey(e.Key())
		if err != nil {
			return fmt.Errorf("listing runs: %w", err)
		}
		var rec engine.RunRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return fmt.Errorf("listing runs: decoding record of %q: %w", id, err)
		}
		if err := fn(id, rec); err != nil {
			return err
		}
	}
}
