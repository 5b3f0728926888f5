package jetstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// Worker announcements (engine.WorkerDirectory): each running worker keeps
// one entry in KV fm_workers, rewritten every announce interval with a
// per-message TTL (Nats-TTL) of a few intervals. A worker that stops
// deletes its entry; one that is killed stops rewriting it and the server
// removes it when the TTL runs out, leaving a delete marker that watchers
// (the engine's pulse service) see.

var _ engine.WorkerDirectory = (*Store)(nil)

// workersKV returns the workers bucket. Open creates it; a store opened
// with OpenExisting binds it on first use, so a console or worker run
// against an engine older than the bucket only loses the announcements.
func (s *Store) workersKV(ctx context.Context) (natsjs.KeyValue, error) {
	return s.bindKV(ctx, &s.workers, WorkersBucket, fmt.Errorf("bucket %s: %w (the engine predates worker announcements)", WorkersBucket, engine.ErrNotFound))
}

// bindKV returns the bucket *slot holds, binding it on first use (under
// s.mu); missing is the error when the bucket does not exist.
func (s *Store) bindKV(ctx context.Context, slot *natsjs.KeyValue, bucket string, missing error) (natsjs.KeyValue, error) {
	s.mu.Lock()
	kv := *slot
	s.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	kv, err := s.js.KeyValue(ctx, bucket)
	if errors.Is(err, natsjs.ErrBucketNotFound) {
		return nil, missing
	}
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", bucket, err)
	}
	s.mu.Lock()
	*slot = kv
	s.mu.Unlock()
	return kv, nil
}

// AnnounceWorker stores a worker's announcement under key, to expire
// after ttl unless announced again.
func (s *Store) AnnounceWorker(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if err := checkDottedKey("worker key", key); err != nil {
		return fmt.Errorf("announcing worker: %w", err)
	}
	if _, err := s.workersKV(ctx); err != nil {
		return fmt.Errorf("announcing worker %s: %w", key, err)
	}
	// The server's TTL resolution is a second.
	ttl = max(ttl.Round(time.Second), time.Second)
	if _, err := s.js.Publish(ctx, workersSubjectPrefix+key, data, natsjs.WithMsgTTL(ttl)); err != nil {
		return fmt.Errorf("announcing worker %s: %w", key, mapPublishError(err))
	}
	return nil
}

// WithdrawWorker deletes a worker's announcement (a clean stop).
func (s *Store) WithdrawWorker(ctx context.Context, key string) error {
	if err := checkDottedKey("worker key", key); err != nil {
		return fmt.Errorf("withdrawing worker: %w", err)
	}
	kv, err := s.workersKV(ctx)
	if err != nil {
		return fmt.Errorf("withdrawing worker %s: %w", key, err)
	}
	if err := kv.Purge(ctx, key, natsjs.PurgeTTL(heartbeatMarkerTTL)); err != nil {
		return fmt.Errorf("withdrawing worker %s: %w", key, err)
	}
	return nil
}

// ListWorkers returns every current announcement.
func (s *Store) ListWorkers(ctx context.Context) ([][]byte, error) {
	kv, err := s.workersKV(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing workers: %w", err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	w, err := kv.WatchAll(ctx, natsjs.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("listing workers: %w", err)
	}
	defer w.Stop()
	var out [][]byte
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("listing workers: watcher stopped")
			}
			if e == nil {
				return out, nil // the current values are all there
			}
			out = append(out, e.Value())
		case <-ctx.Done():
			return nil, fmt.Errorf("listing workers: %w", ctx.Err())
		}
	}
}

// WatchWorkers calls fn with every current announcement, then with each
// update (data nil when a worker withdrew or its entry expired), until ctx
// ends (returning ctx.Err()).
func (s *Store) WatchWorkers(ctx context.Context, fn func(key string, data []byte)) error {
	kv, err := s.workersKV(ctx)
	if err != nil {
		return fmt.Errorf("watching workers: %w", err)
	}
	return watchBucket(ctx, kv, "workers", fn)
}

// TaskBacklog reports each task queue that holds tasks: how many (waiting
// or in flight: the work queue drops a task when it is acked) and when the
// oldest was stored. It costs one stream info and one message read per
// queue with tasks, at most max queues (the fullest first is not known, so
// the first max by name).
func (s *Store) TaskBacklog(ctx context.Context, maxQueues int) ([]engine.QueueBacklog, error) {
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	// A sharded store's queues are summed over the shards; the oldest task
	// is the oldest of each shard's oldest.
	type shardQueue struct {
		shard int
		kind  string
		queue string
	}
	var found []shardQueue
	byQueue := map[[2]string]int{} // index in out
	var out []engine.QueueBacklog
	for i, st := range s.taskShards {
		prefix := s.lay.taskPrefix(i)
		info, err := st.Info(ctx, natsjs.WithSubjectFilter(prefix+">"))
		if err != nil {
			return nil, fmt.Errorf("reading the task backlog: %w", err)
		}
		for subj, n := range info.State.Subjects {
			rest, ok := strings.CutPrefix(subj, prefix)
			kind, queue, ok2 := strings.Cut(rest, ".")
			if !ok || !ok2 || n == 0 {
				continue
			}
			found = append(found, shardQueue{i, kind, queue})
			k := [2]string{queue, kind}
			if j, ok := byQueue[k]; ok {
				out[j].Tasks += n
				continue
			}
			byQueue[k] = len(out)
			out = append(out, engine.QueueBacklog{Queue: queue, Kind: engine.TaskKind(kind), Tasks: n})
		}
	}
	sortBacklog(out)
	if maxQueues > 0 && len(out) > maxQueues {
		out = out[:maxQueues]
	}
	index := map[[2]string]int{}
	for i, b := range out {
		index[[2]string{b.Queue, string(b.Kind)}] = i
	}
	for _, f := range found {
		i, ok := index[[2]string{f.queue, f.kind}]
		if !ok {
			continue // past maxQueues
		}
		subj := s.lay.taskSubject(f.shard, f.kind, f.queue)
		m, err := s.taskShards[f.shard].GetMsg(ctx, 1, natsjs.WithGetMsgSubject(subj))
		if errors.Is(err, natsjs.ErrMsgNotFound) {
			continue // taken meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading the oldest task of %s: %w", subj, err)
		}
		if out[i].Oldest.IsZero() || m.Time.Before(out[i].Oldest) {
			out[i].Oldest = m.Time
		}
	}
	return out, nil
}

func sortBacklog(b []engine.QueueBacklog) {
	slices.SortFunc(b, func(x, y engine.QueueBacklog) int {
		return cmp.Or(cmp.Compare(x.Queue, y.Queue), cmp.Compare(x.Kind, y.Kind))
	})
}
