package jetstream

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// One request/reply server for everything the store answers over core
// NATS (the search API, workflow queries): a nats.go micro service per
// served subject, so `nats micro ls` / `nats micro info` find every engine
// and worker serving one (PING, INFO and STATS come with it). No
// persistence: one answer per request, from one of the processes in the
// subject's queue group.
//
// micro calls a handler from the subscription's goroutine, one request at
// a time; here each request runs on its own goroutine (at most
// replyMaxInFlight at once per subject, then the subscription waits) with
// a context that ends when the requester stops waiting. Subjects, queue
// groups and bodies are the ones the hand-written servers used, so
// clients of either kind work with servers of either kind.
//
// Measured with BenchmarkRequestReply (embedded server, this 2-core
// machine shared with other work, two alternating runs of each build, µs
// per request with an echo handler), hand-written servers -> micro: API
// serial 77-86 -> 49-62, query serial 39-48 -> 41-55, 8 parallel
// requesters 17-28 -> 20-28: within the noise. With a 1 ms handler, 8
// parallel queries took 1.84 ms each -> 0.13 ms (they were answered one at
// a time).

const (
	// hdrTimeout carries the requester's remaining time, in milliseconds,
	// so that a handler that waits (for the index to catch up, for a run's
	// history) gives up when nobody is listening any more.
	hdrTimeout = "Fm-Timeout-Ms"
	// replyDefaultTimeout bounds handlers whose requester sent no time
	// (clients older than the header); replyMaxTimeout bounds any handler.
	replyDefaultTimeout = 10 * time.Second
	replyMaxTimeout     = 60 * time.Second
	// replyMaxInFlight bounds handlers running at once per subject.
	replyMaxInFlight = 64
	// serviceVersion is the micro service version: the version of the
	// request protocol (subjects, header, bodies), not of Foreman.
	serviceVersion = "1.0.0"
)

// serveRequests answers requests on subject, in queue group queue, with
// handler until stop is called, as the micro service named service. stop
// stops taking requests (once it returns, new ones go to other members of
// the queue group, or fail fast with no responders), cancels the contexts
// of running handlers and waits for them.
func (s *Store) serveRequests(service, subject, queue string, handler func(ctx context.Context, subject string, req []byte) []byte) (stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	sem := make(chan struct{}, replyMaxInFlight)
	var (
		mu      sync.Mutex
		stopped bool
		running sync.WaitGroup
	)
	handle := func(req micro.Request) {
		reply := req.Reply()
		if reply == "" {
			return // nobody waits for an answer
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		mu.Lock()
		if stopped { // a request the subscription held when stop began
			mu.Unlock()
			<-sem
			return
		}
		running.Add(1)
		mu.Unlock()
		data, timeout, subj := req.Data(), requestTimeout(nats.Header(req.Headers())), req.Subject()
		go func() {
			defer func() { <-sem; running.Done() }()
			rctx, rcancel := context.WithTimeout(ctx, timeout)
			defer rcancel()
			// Published directly rather than with req.Respond: micro reads
			// the request's respond error once the callback returns, which
			// is before this goroutine answers.
			if err := s.nc.Publish(reply, handler(rctx, subj, data)); err != nil {
				s.log.Warn("answering a request", "subject", subject, "err", err)
			}
		}()
	}
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        service,
		Version:     serviceVersion,
		Description: "Foreman request/reply on " + subject,
		QueueGroup:  queue,
		Metadata:    map[string]string{"subject": subject},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("serving %s: %w", subject, err)
	}
	fail := func(err error) (func(), error) {
		_ = svc.Stop()
		cancel()
		return nil, fmt.Errorf("serving %s: %w", subject, err)
	}
	if err := svc.AddEndpoint(endpointName(subject), micro.HandlerFunc(handle),
		micro.WithEndpointSubject(subject), micro.WithEndpointQueueGroup(queue)); err != nil {
		return fail(err)
	}
	// Make sure the server knows the subscription before anyone asks.
	if err := s.nc.Flush(); err != nil {
		return fail(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = svc.Stop()
			// Once the server has the unsubscribe, requests go to other
			// members of the queue group instead of to this one.
			_ = s.nc.FlushTimeout(2 * time.Second)
			mu.Lock()
			stopped = true
			mu.Unlock()
			cancel()
			running.Wait()
		})
	}, nil
}

// endpointName turns a subject into a micro endpoint name
// ([A-Za-z0-9_-]+): fm.api.vis.search -> fm-api-vis-search.
func endpointName(subject string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, subject)
}

// requestTimeout reads the requester's remaining time.
func requestTimeout(h nats.Header) time.Duration {
	ms, err := strconv.ParseInt(h.Get(hdrTimeout), 10, 64)
	if err != nil || ms <= 0 {
		return replyDefaultTimeout
	}
	return min(time.Duration(ms)*time.Millisecond, replyMaxTimeout)
}

// request sends req on subject and returns the answer's body, telling the
// server how long the requester waits (a context without deadline gets
// timeout). Errors are nats.go's, for the caller to name.
func (s *Store) request(ctx context.Context, subject string, req []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := withDefaultTimeout(ctx, timeout)
	defer cancel()
	msg := nats.NewMsg(subject)
	msg.Data = req
	if dl, ok := ctx.Deadline(); ok {
		// Leave the handler a little less than we wait, to answer in time.
		left := time.Until(dl) * 9 / 10
		msg.Header.Set(hdrTimeout, strconv.FormatInt(max(left.Milliseconds(), 1), 10))
	}
	resp, err := s.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return nil, err
	}
	return resp.Data, nil
}
