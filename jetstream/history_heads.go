package jetstream

import (
	"context"

	"github.com/foremanhq/foreman/engine"
)

// historyHeadsMax is how many batch headers one call of
// FollowHistoryHeaders's fn gets at most.
const historyHeadsMax = 1024

// FollowHistoryHeaders calls fn with the headers of every history batch of
// every run appended after afterSeq, in stream order (Data is nil: the
// server sends headers only), until ctx ends or fn fails. Clients use one
// such reader for all the results they wait for, instead of one consumer
// per run; like ConsumeHistoryFrom it is an ordered consumer that the
// client library recreates from its position after a reconnect, so no
// batch is skipped.
func (s *Store) FollowHistoryHeaders(ctx context.Context, afterSeq uint64, fn func([]engine.StoredBatch) error) error {
	return s.consumeHistoryFrom(ctx, afterSeq, historyHeadsMax, true, fn)
}
