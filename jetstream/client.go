package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// ErrNoEngine: the NATS server has no Foreman streams, so no foreman-engine
// ever ran against it (or it is the wrong server).
var ErrNoEngine = errors.New("no foreman engine on this NATS server")

// OpenExisting opens the store on the streams and buckets a foreman-engine
// created, without creating or changing any: what client processes (the
// foreman CLI, the console) use, so that pointing one at the wrong server
// fails with ErrNoEngine instead of quietly creating an empty Foreman
// there. The store does not own nc.
func OpenExisting(ctx context.Context, nc *nats.Conn, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := checkServerVersion(nc.ConnectedServerVersion()); err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
	defer cancel()
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	recorded, err := recordedShards(ctx, js)
	if err != nil {
		return nil, err
	}
	if recorded == 0 {
		return nil, fmt.Errorf("%w: stream %s not found on %s (start foreman-engine against this server first)", ErrNoEngine, HistoryStream, nc.ConnectedUrlRedacted())
	}
	lay, err := chooseShards(recorded, opts.Shards)
	if err != nil {
		return nil, err
	}
	s := &Store{nc: nc, js: js, opts: opts, log: opts.logger(), consumers: map[string]bool{}, clock: newServerClock(), lay: lay}
	streams := map[string]natsjs.Stream{}
	for _, cfg := range streamConfigs(opts, lay) {
		st, err := js.Stream(ctx, cfg.Name)
		if errors.Is(err, natsjs.ErrStreamNotFound) {
			return nil, fmt.Errorf("%w: stream %s not found on %s (start foreman-engine against this server first)", ErrNoEngine, cfg.Name, nc.ConnectedUrlRedacted())
		}
		if err != nil {
			return nil, fmt.Errorf("opening stream %s: %w", cfg.Name, err)
		}
		streams[cfg.Name] = st
		if info := st.CachedInfo(); info != nil {
			s.clock.observe(info.TimeStamp)
		}
	}
	for name, dst := range map[string]*natsjs.KeyValue{RunsBucket: &s.runs, HeartbeatsBucket: &s.heartbeats} {
		kv, err := js.KeyValue(ctx, name)
		if errors.Is(err, natsjs.ErrBucketNotFound) {
			return nil, fmt.Errorf("%w: bucket %s not found on %s (start foreman-engine against this server first)", ErrNoEngine, name, nc.ConnectedUrlRedacted())
		}
		if err != nil {
			return nil, fmt.Errorf("opening bucket %s: %w", name, err)
		}
		*dst = kv
	}
	if err := s.bindStreams(streams); err != nil {
		return nil, err
	}
	return s, nil
}

// Dial connects to the NATS server at url and opens the existing store
// (OpenExisting). Close the returned node when done; its Server is nil.
func Dial(ctx context.Context, url string, opts Options) (*Node, error) {
	nc, err := Connect(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	n := &Node{Conn: nc}
	if n.Store, err = OpenExisting(ctx, nc, opts); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// openBucket returns the bucket cfg names, creating it when absent; an
// existing bucket is used as it is (a client never rewrites the
// configuration an operator may have tuned).
func openBucket(ctx context.Context, nc *nats.Conn, cfg natsjs.KeyValueConfig) (natsjs.KeyValue, error) {
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
	defer cancel()
	for range 3 {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if err == nil {
			return kv, nil
		}
		if !errors.Is(err, natsjs.ErrBucketNotFound) {
			return nil, fmt.Errorf("opening bucket %s: %w", cfg.Bucket, err)
		}
		kv, err = js.CreateKeyValue(ctx, cfg)
		if err == nil {
			return kv, nil
		}
		if !errors.Is(err, natsjs.ErrBucketExists) {
			return nil, fmt.Errorf("creating bucket %s: %w", cfg.Bucket, err)
		}
		// another client created it between the two calls: open it
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("opening bucket %s: created and not found repeatedly", cfg.Bucket)
}
