package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/backoff"
)

// MinServerVersion is the oldest nats-server the store works with: batched
// direct get (ReadHistory) arrived in 2.11.0.
const MinServerVersion = "2.11.0"

// defaultTimeout bounds calls whose context has no deadline.
const defaultTimeout = 5 * time.Second

// retryLoop spaces the retries of a failing consumer loop: 50ms doubling
// to 5s.
var retryLoop = backoff.Policy{Initial: 50 * time.Millisecond, Factor: 2, Max: 5 * time.Second}

var _ engine.Store = (*Store)(nil)

// Store implements engine.Store on JetStream. It is safe for concurrent use.
type Store struct {
	nc   *nats.Conn
	js   natsjs.JetStream
	opts Options
	log  *slog.Logger

	// history holds every batch in one order: the one history stream, or
	// the sourced FM_HISTORY of a sharded store (shards.go); readers of
	// all history use it. Per-run reads and writes use shard streams.
	history, timers  natsjs.Stream
	lay              layout
	histShards       []natsjs.Stream // by shard
	taskShards       []natsjs.Stream // by shard
	runs, heartbeats natsjs.KeyValue
	workers          natsjs.KeyValue // bound lazily by a client store (workers.go); under mu
	schedules        natsjs.KeyValue // bound lazily (schedules.go); under mu
	users            natsjs.KeyValue // bound lazily (cmdkeys.go); under mu
	rights           rightsCache     // recent user lookups (cmdkeys.go)

	dgs []*directGetter // batched direct gets, by history shard

	clock *serverClock // the server's time, from what it stamps

	mu        sync.Mutex
	consumers map[string]bool // task consumers known to exist, by name

	signing signingState // the operator-event key (signing.go)

	stopSpread context.CancelFunc // ends spreadLeaders (shards_leaders.go); nil if none runs

	// pubObs is told of every publish (observe.go).
	pubObs atomic.Pointer[func(op string, took time.Duration, err error)]

	closeOnce sync.Once
}

// Open checks the server, creates every stream and bucket or updates those
// configured otherwise than wanted (safe at every start; one already as
// wanted is left alone), and returns the store. The store does not own nc:
// close the connection after Close.
func Open(ctx context.Context, nc *nats.Conn, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := checkServerVersion(nc.ConnectedServerVersion()); err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	recorded, err := retrySetup(ctx, func(ctx context.Context) (int, error) { return recordedShards(ctx, js) })
	if err != nil {
		return nil, err
	}
	lay, err := chooseShards(recorded, opts.Shards)
	if err != nil {
		return nil, err
	}
	s := &Store{nc: nc, js: js, opts: opts, log: opts.logger(), consumers: map[string]bool{}, clock: newServerClock(), lay: lay}
	streams := make(map[string]natsjs.Stream)
	for _, cfg := range streamConfigs(opts, lay) {
		st, err := retrySetup(ctx, func(ctx context.Context) (natsjs.Stream, error) { return ensureStream(ctx, js, cfg) })
		if err != nil {
			return nil, err
		}
		streams[cfg.Name] = st
		if info := st.CachedInfo(); info != nil {
			s.clock.observe(info.TimeStamp) // the first sample: the server's now
		}
	}
	if err := s.bindStreams(streams); err != nil {
		return nil, err
	}
	buckets := make(map[string]natsjs.KeyValue)
	for _, cfg := range bucketConfigs(opts) {
		kv, err := retrySetup(ctx, func(ctx context.Context) (natsjs.KeyValue, error) { return ensureBucket(ctx, js, cfg) })
		if err != nil {
			return nil, err
		}
		buckets[cfg.Bucket] = kv
	}
	s.runs, s.heartbeats, s.workers = buckets[RunsBucket], buckets[HeartbeatsBucket], buckets[WorkersBucket]
	s.spreadLeaders()
	return s, nil
}

// Close releases the store's subscriptions. It does not close the
// connection given to Open.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.stopSpread != nil {
			s.stopSpread()
		}
		for _, g := range s.dgs {
			err = errors.Join(err, g.close())
		}
	})
	return err
}

// bindStreams takes the store's streams from byName (every stream of its
// layout) and opens a direct getter per history shard.
func (s *Store) bindStreams(byName map[string]natsjs.Stream) error {
	s.history, s.timers = byName[HistoryStream], byName[TimersStream]
	s.histShards = make([]natsjs.Stream, s.lay.n)
	s.taskShards = make([]natsjs.Stream, s.lay.n)
	for i := range s.lay.n {
		s.histShards[i], s.taskShards[i] = byName[s.lay.historyStream(i)], byName[s.lay.taskStream(i)]
		g, err := newDirectGetter(s.nc, s.lay.historyStream(i))
		if err != nil {
			for _, g := range s.dgs {
				_ = g.close()
			}
			return err
		}
		s.dgs = append(s.dgs, g)
	}
	return nil
}

// Conn is the connection the store uses.
func (s *Store) Conn() *nats.Conn { return s.nc }

// checkServerVersion refuses servers older than MinServerVersion.
func checkServerVersion(v string) error {
	ok, err := versionAtLeast(v, MinServerVersion)
	if err != nil {
		return fmt.Errorf("checking nats server version: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: server is %s, foreman needs %s or newer (batched direct get)", ErrServerTooOld, v, MinServerVersion)
	}
	return nil
}

// versionAtLeast compares dotted versions "major.minor.patch", ignoring a
// leading "v" and any pre-release or build suffix ("2.11.0-RC.1" counts as
// 2.11.0).
func versionAtLeast(have, want string) (bool, error) {
	h, err := parseVersion(have)
	if err != nil {
		return false, err
	}
	w, err := parseVersion(want)
	if err != nil {
		return false, err
	}
	for i := range h {
		if h[i] != w[i] {
			return h[i] > w[i], nil
		}
	}
	return true, nil
}

func parseVersion(v string) ([3]int, error) {
	var out [3]int
	s := strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > 3 {
		return out, fmt.Errorf("version %q: want major.minor.patch", v)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, fmt.Errorf("version %q: want major.minor.patch", v)
		}
		out[i] = n
	}
	return out, nil
}

// withRequestTimeout bounds one request to the server by d, or by ctx's
// deadline when that is sooner. A request sent while a stream's or a
// consumer's leader changes may never be answered, so the caller's own
// deadline, often minutes away or none, must not be its only bound: a
// worker started with a 4-minute context waited that long on a consumer
// lookup lost in a rolling restart, and pulled no task meanwhile.
func withRequestTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// withDefaultTimeout gives ctx a deadline when it has none: for waits the
// caller may mean to be longer (a request to a service that tells the
// server how long its caller waits, the store's setup).
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Deployment names the deployment the store reaches: the creation time of
// its history stream, the same for every store on that data (every node
// of a cluster) and different for another deployment. Clients and workers
// of one process that share it hand each other work (engine/local.go);
// "" when unknown (no hand-offs).
func (s *Store) Deployment() string {
	info := s.history.CachedInfo()
	if info == nil || info.Created.IsZero() {
		return ""
	}
	return HistoryStream + "@" + strconv.FormatInt(info.Created.UnixNano(), 10)
}
