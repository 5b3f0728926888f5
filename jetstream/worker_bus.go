package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
)

// A worker that runs an activity attempt eagerly (the one whose workflow
// task scheduled it) is asked by other workers whether it still runs it:
// requests to fm.q.<queue>.w.<token> reach that one worker instance, and
// nobody answers once it is gone (no responders at once, no timeout).

const maxWorkerTokenLen = 64

func workerSubject(queue, token string) (string, error) {
	subj, err := querySubject(queue)
	if err != nil {
		return "", err
	}
	if err := checkToken("worker token", token, maxWorkerTokenLen); err != nil {
		return "", err
	}
	return subj + ".w." + token, nil
}

// ServeWorker answers requests addressed to one worker instance (token) of
// queue with handler, which must be quick: it runs on the subscription's
// goroutine. stop ends serving.
func (s *Store) ServeWorker(queue, token string, handler func(req []byte) []byte) (stop func(), err error) {
	subj, err := workerSubject(queue, token)
	if err != nil {
		return nil, fmt.Errorf("serving worker requests: %w", err)
	}
	// Subscribed on the server before an eager attempt can be asked about.
	stop, err = s.subscribeFlushed(subj, func(m *nats.Msg) {
		if m.Reply != "" {
			_ = m.Respond(handler(m.Data))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("serving worker requests: %w", err)
	}
	return stop, nil
}

// AskWorker sends req to the worker instance token of queue and returns its
// answer; engine.ErrNoResponders when that worker is gone. A context
// without deadline gets 5 s.
func (s *Store) AskWorker(ctx context.Context, queue, token string, req []byte) ([]byte, error) {
	subj, err := workerSubject(queue, token)
	if err != nil {
		return nil, fmt.Errorf("asking a worker: %w", err)
	}
	resp, err := s.request(ctx, subj, req, defaultTimeout)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("asking worker %s of %s: %w", token, queue, engine.ErrNoResponders)
	}
	if err != nil {
		return nil, fmt.Errorf("asking worker %s of %s: %w", token, queue, err)
	}
	return resp, nil
}
