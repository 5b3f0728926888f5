package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

const (
	taskMaxAckPending = 20000
	// taskPullExpiry is how long one pull request waits on the server; a
	// new one follows at once, so it only bounds idle churn.
	taskPullExpiry = 30 * time.Second
)

// PublishTask stores a task on fm.t.<kind>.<queue>; msgID (Nats-Msg-Id)
// makes a republish inside the duplicate window harmless.
func (s *Store) PublishTask(ctx context.Context, kind engine.TaskKind, queue string, data []byte, msgID string) error {
	subj, err := taskSubject(kind, queue)
	if err != nil {
		return fmt.Errorf("publishing task: %w", err)
	}
	m := &nats.Msg{Subject: subj, Data: data}
	if msgID != "" {
		if !headerSafe(msgID) {
			return fmt.Errorf("publishing %s task to %s: %w: message id %q has control characters or surrounding spaces", kind, queue, ErrInvalidName, msgID)
		}
		m.Header = nats.Header{hdrMsgID: []string{msgID}}
	}
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publishing %s task to %s: %w", kind, queue, mapPublishError(err))
	}
	return nil
}

// ConsumeTasks delivers tasks of (kind, queue) to fn from a durable pull
// consumer named <kind>_<queue>.
//
// Pull requests ask for exactly as many tasks as there are free slots (of
// maxInFlight), so a busy worker never holds tasks in a client-side buffer
// that an idle worker could run, and no fetched task waits past its
// AckWait before fn sees it. A Delivery frees its slot when acked or
// nakked. When ctx ends, tasks fetched but not yet handed to fn are nakked
// for immediate redelivery; deliveries fn holds stay with the caller (a
// worker may drain them), and are redelivered after AckWait if never ended.
func (s *Store) ConsumeTasks(ctx context.Context, kind engine.TaskKind, queue string, maxInFlight int, fn func(engine.Delivery)) error {
	subj, err := taskSubject(kind, queue)
	if err != nil {
		return fmt.Errorf("consuming tasks: %w", err)
	}
	if maxInFlight < 1 {
		return fmt.Errorf("consuming %s tasks of %s: max in flight %d: must be at least 1", kind, queue, maxInFlight)
	}
	name := taskConsumerName(kind, queue)
	slots := make(chan struct{}, maxInFlight) // a send takes a slot
	var bo backoff
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cons, err := s.taskConsumer(ctx, name, subj)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("task consumer unavailable", "consumer", name, "err", err)
			bo.wait(ctx)
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		n := 1
	reserve:
		for n < maxInFlight {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break reserve
			}
		}
		got, err := s.fetchTasks(ctx, cons, n, slots, fn)
		for i := got; i < n; i++ {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The consumer may be gone (deleted, or a server that lost it):
			// recreate it before the next pull.
			s.forgetConsumer(name)
			s.log.Warn("fetching tasks", "consumer", name, "err", err)
			bo.wait(ctx)
			continue
		}
		bo.reset()
	}
}

// fetchTasks runs one pull request for n tasks, handing each to fn as it
// arrives. It returns how many arrived (each took one reserved slot).
func (s *Store) fetchTasks(ctx context.Context, cons natsjs.Consumer, n int, slots chan struct{}, fn func(engine.Delivery)) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, taskPullExpiry)
	defer cancel()
	batch, err := cons.Fetch(n, natsjs.FetchContext(fctx))
	if err != nil {
		return 0, err
	}
	got := 0
	for m := range batch.Messages() {
		got++
		if ctx.Err() != nil {
			// Not started: hand it back for another worker at once.
			_ = m.Nak()
			<-slots
			continue
		}
		fn(newDelivery(m, s.opts.AckWait, func() { <-slots }))
	}
	err = batch.Error()
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, natsjs.ErrNoMessages)) {
		err = nil
	}
	return got, err
}

// taskConsumer creates (idempotently) and caches the durable consumer of one
// task queue.
func (s *Store) taskConsumer(ctx context.Context, name, subj string) (natsjs.Consumer, error) {
	s.mu.Lock()
	c := s.consumers[name]
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := s.js.CreateOrUpdateConsumer(ctx, TasksStream, natsjs.ConsumerConfig{
		Durable:       name,
		Description:   "Foreman task queue " + subj,
		FilterSubject: subj,
		DeliverPolicy: natsjs.DeliverAllPolicy,
		AckPolicy:     natsjs.AckExplicitPolicy,
		AckWait:       s.opts.AckWait,
		MaxDeliver:    -1, // never drop a task
		MaxAckPending: taskMaxAckPending,
		ReplayPolicy:  natsjs.ReplayInstantPolicy,
		Replicas:      s.opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s on %s: %w", name, TasksStream, err)
	}
	s.mu.Lock()
	s.consumers[name] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Store) forgetConsumer(name string) {
	s.mu.Lock()
	delete(s.consumers, name)
	s.mu.Unlock()
}

// delivery is one task handed to a worker.
type delivery struct {
	m            natsjs.Msg
	numDelivered uint64
	release      func()
	once         sync.Once
	ackWait      time.Duration
}

func newDelivery(m natsjs.Msg, ackWait time.Duration, release func()) *delivery {
	d := &delivery{m: m, release: release, numDelivered: 1, ackWait: ackWait}
	if md, err := m.Metadata(); err == nil {
		d.numDelivered = md.NumDelivered
	}
	return d
}

func (d *delivery) end() { d.once.Do(d.release) }

// AckWait is how long the task may go without Ack, Nak or InProgress
// before it is redelivered.
func (d *delivery) AckWait() time.Duration { return d.ackWait }

// Data is the task as published.
func (d *delivery) Data() []byte { return d.m.Data() }

// NumDelivered counts deliveries of this task (1 the first time), as the
// server tracks it.
func (d *delivery) NumDelivered() uint64 { return d.numDelivered }

// Ack acknowledges the task and waits for the server to confirm it, so a
// task whose result is saved is not delivered again. The slot is freed even
// if the confirmation fails (the task then comes back after AckWait).
func (d *delivery) Ack(ctx context.Context) error {
	defer d.end()
	if err := d.m.DoubleAck(ctx); err != nil {
		return fmt.Errorf("acking task %s: %w", d.m.Subject(), err)
	}
	return nil
}

// Nak hands the task back for redelivery after delay (at once if delay <= 0).
func (d *delivery) Nak(delay time.Duration) error {
	defer d.end()
	var err error
	if delay > 0 {
		err = d.m.NakWithDelay(delay)
	} else {
		err = d.m.Nak()
	}
	if err != nil {
		return fmt.Errorf("nakking task %s: %w", d.m.Subject(), err)
	}
	return nil
}

// InProgress resets the task's redelivery deadline (AckWait).
func (d *delivery) InProgress() error {
	if err := d.m.InProgress(); err != nil {
		return fmt.Errorf("task %s in progress: %w", d.m.Subject(), err)
	}
	return nil
}
