package jetstream

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// What losing a node costs, and how it is bounded. When a stream's leader
// dies, a publish already sent to it gets no answer at all, and consumers
// whose leader it was stop delivering without telling anyone: only a
// missing heartbeat shows it. The cluster elects a new leader in a second
// or two; these bounds let the store notice that promptly rather than
// after nats.go's 15 to 30 s defaults (measured: TestCluster* in
// cluster_loss_test.go).
const (
	// pullHeartbeat is how often the server confirms a waiting pull request
	// (of the history consumers and ordered consumers); two missed mean it
	// is lost and a new one is sent.
	pullHeartbeat = time.Second
	// pullExpiry bounds one pull request of those consumers.
	pullExpiry = 10 * time.Second
	// publishAttempt bounds one attempt of an idempotent publish (one with
	// a message id), retried until the caller's context ends: an attempt
	// sent to a leader that died meanwhile is never answered.
	publishAttempt = 2 * time.Second
)

// pullOpts are the Messages options of the history and ordered consumers.
func pullOpts(extra ...natsjs.PullMessagesOpt) []natsjs.PullMessagesOpt {
	return append([]natsjs.PullMessagesOpt{natsjs.PullExpiry(pullExpiry), natsjs.PullHeartbeat(pullHeartbeat)}, extra...)
}

// codeDuplicateInProcess: a publish with the same message id is being
// replicated and not yet stored; whether it lands is not known yet.
const codeDuplicateInProcess natsjs.ErrorCode = 10158

// publishIdempotent publishes m, which carries a message id (or replaces
// the last message of its subject in a stream that keeps one), retrying
// while the stream has no reachable leader or an earlier copy of m is
// still in process: the server's duplicate window makes a second copy
// harmless, and AppendHistory recognises its own batch after a retry.
func (s *Store) publishIdempotent(ctx context.Context, m *nats.Msg) (uint64, error) {
	wait := 20 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, publishAttempt)
		seq, err := s.publish(actx, m)
		cancel()
		if err == nil || ctx.Err() != nil || !publishRetryable(err) {
			return seq, err
		}
		s.log.Debug("publish unanswered during a leader change; retrying", "subject", m.Subject, "err", err)
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// publishRetryable reports whether a publish failed for want of a leader
// (no answer, no responder, a connection being re-established) or because
// an earlier copy is still in process.
func publishRetryable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, natsjs.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || apiErrorCode(err) == codeDuplicateInProcess
}
