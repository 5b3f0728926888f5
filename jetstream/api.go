package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
)

// Request/reply APIs served by foreman-engine over core NATS (the search
// API of the visibility package): no persistence, one answer per request
// from one of the engines serving the subject.

const (
	// apiQueueGroup spreads requests over every engine serving a subject.
	apiQueueGroup = "foreman-engine"
	// hdrTimeout carries the requester's remaining time, in milliseconds,
	// so that a handler that waits (for the index to catch up) gives up
	// when nobody is listening any more.
	hdrTimeout = "Fm-Timeout-Ms"
	// apiDefaultTimeout bounds requests whose context has no deadline, and
	// handlers whose requester sent none; apiMaxTimeout bounds any handler.
	apiDefaultTimeout = 10 * time.Second
	apiMaxTimeout     = 60 * time.Second
	// apiMaxInFlight bounds handlers running at once per subject.
	apiMaxInFlight = 64
)

func checkAPISubject(subject string) error {
	if subject == "" || strings.ContainsAny(subject, " \t\r\n*>") {
		return fmt.Errorf("%w: API subject %q: want a literal subject", ErrInvalidName, subject)
	}
	return nil
}

// ServeAPI answers requests on subject with handler until stop is called.
// Engines serving the same subject share the requests (a queue group).
// Each request runs in its own goroutine (at most 64 at once) with a
// context that ends when the requester stops waiting; stop waits for
// running handlers.
func (s *Store) ServeAPI(subject string, handler func(ctx context.Context, req []byte) []byte) (func(), error) {
	if err := checkAPISubject(subject); err != nil {
		return nil, fmt.Errorf("serving API: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sem := make(chan struct{}, apiMaxInFlight)
	var wg sync.WaitGroup
	sub, err := s.nc.QueueSubscribe(subject, apiQueueGroup, func(m *nats.Msg) {
		if m.Reply == "" {
			return // nobody waits for an answer
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			rctx, rcancel := context.WithTimeout(ctx, requestTimeout(m.Header))
			defer rcancel()
			if err := m.Respond(handler(rctx, m.Data)); err != nil {
				s.log.Warn("answering API request", "subject", subject, "err", err)
			}
		}()
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("serving %s: %w", subject, err)
	}
	// Make sure the server knows the subscription before anyone asks.
	if err := s.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("serving %s: %w", subject, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = sub.Unsubscribe()
			// Once the server has it, requests go to other engines (or
			// fail fast with no responders) instead of to this one.
			_ = s.nc.FlushTimeout(2 * time.Second)
			cancel()
			wg.Wait()
		})
	}, nil
}

// requestTimeout reads the requester's remaining time.
func requestTimeout(h nats.Header) time.Duration {
	ms, err := strconv.ParseInt(h.Get(hdrTimeout), 10, 64)
	if err != nil || ms <= 0 {
		return apiDefaultTimeout
	}
	return min(time.Duration(ms)*time.Millisecond, apiMaxTimeout)
}

// Request sends req to one engine serving subject and returns its answer.
// When no engine serves it, the error wraps engine.ErrNoResponders and
// says so. A context without deadline gets 10 s.
func (s *Store) Request(ctx context.Context, subject string, req []byte) ([]byte, error) {
	if err := checkAPISubject(subject); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	ctx, cancel := withDefaultTimeout(ctx, apiDefaultTimeout)
	defer cancel()
	msg := nats.NewMsg(subject)
	msg.Data = req
	if dl, ok := ctx.Deadline(); ok {
		// Leave the handler a little less than we wait, to answer in time.
		left := time.Until(dl) * 9 / 10
		msg.Header.Set(hdrTimeout, strconv.FormatInt(max(left.Milliseconds(), 1), 10))
	}
	resp, err := s.nc.RequestMsgWithContext(ctx, msg)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("%s: %w: nobody serves it on this NATS server (is foreman-engine running?)", subject, engine.ErrNoResponders)
	}
	if err != nil {
		return nil, fmt.Errorf("request to %s: %w", subject, err)
	}
	return resp.Data, nil
}

// Publish sends a notice on subject (no persistence, no answer).
func (s *Store) Publish(subject string, data []byte) error {
	if err := checkAPISubject(subject); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := s.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("publishing on %s: %w", subject, err)
	}
	return nil
}

// Subscribe calls fn with every notice published on subject until stop is
// called.
func (s *Store) Subscribe(subject string, fn func(data []byte)) (func(), error) {
	if err := checkAPISubject(subject); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	sub, err := s.nc.Subscribe(subject, func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribing to %s: %w", subject, err)
	}
	if err := s.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribing to %s: %w", subject, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
