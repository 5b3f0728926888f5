package jetstream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Every process opening the store makes sure of the streams and buckets,
// but changes them only when their configuration differs from the wanted
// one: updating a stream on every start is not free, and under the race
// detector nats-server's stream update was seen racing the consumer
// creation of another process starting at the same time.

// setupAttempt bounds one stream or bucket request of Open: one sent while
// the stream's leader changes (a node lost, or a shard's leader moved by
// another engine's spreadLeaders) may never be answered, and nats.go gives
// it no deadline of its own; a start that hung on one for minutes was seen
// (TestClusterSeveralEnginesSharded).
const setupAttempt = defaultTimeout

// retrySetup runs fn (a stream or bucket of Open, the audit stream) with a
// bounded context until it does not time out
// on its own, or ctx ends. A cluster that has just formed, or a node that
// is restarting, answers "no suitable peers for placement" until the
// meta leader sees every peer current (TestClusterQuickRun failed so on a
// 3-shard store created right after its cluster): that is retried for up
// to setupPeerWait, then reported.
func retrySetup[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	peersBy := time.Now().Add(setupPeerWait)
	for {
		actx, cancel := context.WithTimeout(ctx, setupAttempt)
		v, err := fn(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return v, err
		}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
		case apiErrorCode(err) == codeNoSuitablePeers && time.Now().Before(peersBy):
			select {
			case <-ctx.Done():
				return v, err
			case <-time.After(200 * time.Millisecond):
			}
		default:
			return v, err
		}
	}
}

// codeNoSuitablePeers: the cluster cannot place the stream's replicas
// (yet: a peer not seen current by the meta leader).
const codeNoSuitablePeers natsjs.ErrorCode = 10005

// setupPeerWait bounds how long Open waits for a cluster's peers.
const setupPeerWait = 30 * time.Second

// ensureStream creates the stream, or updates it when it is configured
// otherwise than want, and returns it.
func ensureStream(ctx context.Context, js natsjs.JetStream, want natsjs.StreamConfig) (natsjs.Stream, error) {
	st, err := js.Stream(ctx, want.Name)
	switch {
	case errors.Is(err, natsjs.ErrStreamNotFound):
		st, err = js.CreateStream(ctx, want)
		if errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
			// created meanwhile by another process, configured otherwise
			st, err = js.CreateOrUpdateStream(ctx, want)
		}
	case err != nil:
	case sameStreamConfig(st.CachedInfo().Config, want):
	default:
		st, err = js.UpdateStream(ctx, want)
	}
	if err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", want.Name, err)
	}
	return st, nil
}

// ensureBucket creates the bucket, or updates it when it is configured
// otherwise than want, and returns it.
func ensureBucket(ctx context.Context, js natsjs.JetStream, want natsjs.KeyValueConfig) (natsjs.KeyValue, error) {
	kv, err := js.KeyValue(ctx, want.Bucket)
	switch {
	case errors.Is(err, natsjs.ErrBucketNotFound):
		kv, err = js.CreateKeyValue(ctx, want)
		if errors.Is(err, natsjs.ErrBucketExists) {
			kv, err = js.CreateOrUpdateKeyValue(ctx, want)
		}
	case err != nil:
	default:
		var status natsjs.KeyValueStatus
		if status, err = kv.Status(ctx); err == nil && !sameBucketConfig(status, want) {
			kv, err = js.UpdateKeyValue(ctx, want)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("creating bucket %s: %w", want.Bucket, err)
	}
	return kv, nil
}

// sameStreamConfig tells whether a stream configured as have (read from
// the server) is configured as want, up to what the server fills in
// itself: unset limits become -1 (unlimited) and it adds its own "_nats."
// metadata. Any other difference, even a default not listed here, counts:
// the stream is then updated, which is always correct.
func sameStreamConfig(have, want natsjs.StreamConfig) bool {
	for _, c := range []*natsjs.StreamConfig{&have, &want} {
		for _, v := range []*int64{&c.MaxMsgs, &c.MaxBytes, &c.MaxMsgsPerSubject} {
			if *v == 0 {
				*v = -1
			}
		}
		if c.MaxMsgSize == 0 {
			c.MaxMsgSize = -1
		}
		if c.MaxConsumers == 0 {
			c.MaxConsumers = -1
		}
		c.Metadata = userMetadata(c.Metadata)
	}
	return reflect.DeepEqual(have, want)
}

// sameBucketConfig tells whether a bucket is configured as want, as far
// as its stream shows: the settings of the KeyValueConfig (unset ones
// read back as their defaults), and the stream features nats.go gives
// every bucket it creates (an older bucket without them is updated).
func sameBucketConfig(status natsjs.KeyValueStatus, want natsjs.KeyValueConfig) bool {
	bs, ok := status.(*natsjs.KeyValueBucketStatus)
	if !ok {
		return false
	}
	have := bs.Config()
	for _, c := range []*natsjs.KeyValueConfig{&have, &want} {
		if c.History == 0 {
			c.History = 1
		}
		if c.Replicas == 0 {
			c.Replicas = 1
		}
		if c.MaxBytes == 0 {
			c.MaxBytes = -1
		}
		if c.MaxValueSize == 0 {
			c.MaxValueSize = -1
		}
		c.Metadata = userMetadata(c.Metadata)
	}
	sc := bs.StreamInfo().Config
	return reflect.DeepEqual(have, want) &&
		sc.AllowRollup && sc.DenyDelete && sc.AllowDirect && sc.Discard == natsjs.DiscardNew &&
		sc.AllowMsgTTL == (want.LimitMarkerTTL != 0)
}

// userMetadata drops the server's own "_nats." keys; nil if none remain.
func userMetadata(md map[string]string) map[string]string {
	out := maps.Clone(md)
	maps.DeleteFunc(out, func(k, _ string) bool { return strings.HasPrefix(k, "_nats.") })
	if len(out) == 0 {
		return nil
	}
	return out
}
