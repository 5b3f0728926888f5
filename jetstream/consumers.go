package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// errConsumerUnanswered: a consumer lookup got no answer in time (most
// likely its leader is changing); whether it exists is not known.
var errConsumerUnanswered = errors.New("consumer lookup unanswered")

// ensureConsumer returns the durable consumer want.Durable of stream,
// creating it, or updating it when it lacks what want asks for.
//
// It looks the consumer up before it creates or updates it: a lookup is a
// read the consumer's leader answers, while a create or update goes
// through the cluster's meta leader and is answered only once the
// consumer's group has applied it. After a rolling restart that answer
// did not come for minutes although the consumer existed all along, and a
// worker that recreated its task consumer after every failed pull stopped
// pulling for good (TestClusterRollingRestart, 1 run in 3 under load).
// A lookup without an answer returns errConsumerUnanswered.
func (s *Store) ensureConsumer(ctx context.Context, stream string, want natsjs.ConsumerConfig) (natsjs.Consumer, error) {
	// Bounded: nats.go gives these requests no deadline of their own, and
	// one sent while a leader changes may never be answered.
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	c, err := s.js.Consumer(ctx, stream, want.Durable)
	switch {
	case err == nil && consumerCurrent(c.CachedInfo().Config, want):
		return c, nil
	case err == nil, errors.Is(err, natsjs.ErrConsumerNotFound):
		// Missing, or made by an older version: create or update below.
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("consumer %s on %s: %w: %w", want.Durable, stream, errConsumerUnanswered, err)
	default:
		return nil, fmt.Errorf("looking up consumer %s on %s: %w", want.Durable, stream, err)
	}
	c, err = s.js.CreateOrUpdateConsumer(ctx, stream, want)
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s on %s: %w", want.Durable, stream, err)
	}
	return c, nil
}

// consumerCurrent reports whether an existing consumer has everything the
// store relies on in want (the server fills in defaults for the rest).
func consumerCurrent(have, want natsjs.ConsumerConfig) bool {
	return have.FilterSubject == want.FilterSubject && have.AckWait == want.AckWait &&
		have.AckPolicy == want.AckPolicy && have.DeliverPolicy == want.DeliverPolicy &&
		have.MaxDeliver == want.MaxDeliver && have.MaxAckPending == want.MaxAckPending
}
