package jetstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/backoff"
)

const (
	taskMaxAckPending = 20000
	// taskPullExpiry is how long one pull request waits on the server; a
	// new one follows at once, so it only bounds idle churn.
	taskPullExpiry = 30 * time.Second
	// shardedPullExpiry is taskPullExpiry in a sharded store, whose pull
	// loops (one per shard) share a queue's slots: a request waiting on a
	// quiet shard gives its slots back this often, to a shard with tasks
	// that found none free (at least twice the heartbeat, as the server
	// wants).
	shardedPullExpiry = 2*taskPullHeartbeat + 500*time.Millisecond
	// taskPullHeartbeat is how often the server tells that a waiting pull
	// request is alive; two missed mean it is lost (a server restart, a
	// consumer leader that moved), and a new one is sent. It is the
	// failover's pullHeartbeat: at 5 s a worker whose consumer leader died
	// idled 10 s (TestClusterLosesHistoryLeader).
	taskPullHeartbeat = pullHeartbeat
	// pullSubjectPrefix + <stream>.<consumer> takes pull requests.
	pullSubjectPrefix = natsjs.DefaultAPIPrefix + "CONSUMER.MSG.NEXT."
	// handBackTimeout bounds how long a stopping consumer waits for its
	// pull request to end (normally one round trip).
	handBackTimeout = defaultTimeout
)

// publishTask (PublishTask, observe.go) stores a task on fm.t.<kind>.<queue> (of the task's shard
// in a sharded store); msgID (Nats-Msg-Id) makes a republish inside the
// duplicate window harmless.
func (s *Store) publishTask(ctx context.Context, kind engine.TaskKind, queue string, data []byte, msgID string) error {
	subj, err := s.lay.checkedTaskSubject(s.lay.taskShard(msgID), kind, queue)
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
	publish := s.publish
	if msgID != "" {
		publish = s.publishIdempotent
	}
	if _, err := publish(ctx, m); err != nil {
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
// nakked. When ctx ends, the open pull request is ended and every task it
// brought that fn has not seen is nakked for immediate redelivery (see
// pullTasks); deliveries fn holds stay with the caller (a worker may drain
// them), and are redelivered after AckWait if never ended. A task handed
// back comes again with NumDelivered one higher: the server counts
// deliveries, and cannot be told that one was never started.
func (s *Store) ConsumeTasks(ctx context.Context, kind engine.TaskKind, queue string, maxInFlight int, fn func(engine.Delivery)) error {
	if _, err := s.lay.checkedTaskSubject(0, kind, queue); err != nil {
		return fmt.Errorf("consuming tasks: %w", err)
	}
	if maxInFlight < 1 {
		return fmt.Errorf("consuming %s tasks of %s: max in flight %d: must be at least 1", kind, queue, maxInFlight)
	}
	slots := make(chan struct{}, maxInFlight) // a send takes a slot
	if !s.lay.sharded() {
		return s.consumeTaskShard(ctx, 0, kind, queue, maxInFlight, slots, fn)
	}
	// A sharded store: one pull loop per shard, sharing the slots. Each
	// reserves at most its share for a pull request, so that a request
	// waiting on a quiet shard does not hold every slot while another
	// shard has tasks, and such a request ends within shardedPullExpiry
	// to let a shard that found no free slot have them (the case when
	// slots are fewer than shards, or all taken). fn is still called one
	// at a time.
	var mu sync.Mutex
	one := func(d engine.Delivery) {
		mu.Lock()
		defer mu.Unlock()
		fn(d)
	}
	share := max(1, (maxInFlight+s.lay.n-1)/s.lay.n)
	var wg sync.WaitGroup
	for i := range s.lay.n {
		wg.Go(func() { _ = s.consumeTaskShard(ctx, i, kind, queue, share, slots, one) })
	}
	wg.Wait()
	return ctx.Err()
}

// consumeTaskShard is ConsumeTasks on one shard's stream: pull requests
// of up to reserve slots each, until ctx ends.
func (s *Store) consumeTaskShard(ctx context.Context, shard int, kind engine.TaskKind, queue string, reserve int, slots chan struct{}, fn func(engine.Delivery)) error {
	subj, _ := s.lay.checkedTaskSubject(shard, kind, queue)
	stream := s.lay.taskStream(shard)
	name := taskConsumerName(kind, queue)
	bo := backoff.Loop{Policy: retryLoop}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.taskConsumer(ctx, stream, name, subj); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("task consumer unavailable", "consumer", name, "err", err)
			bo.Wait(ctx)
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		n := 1
	reserve:
		for n < reserve {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break reserve
			}
		}
		got, err := s.pullTasks(ctx, stream, name, n, slots, fn)
		for i := got; i < n; i++ {
			<-slots
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// The consumer may be gone (deleted, or a server that lost it):
			// look it up again (and recreate it if so) before the next pull.
			s.forgetConsumer(stream, name)
			s.log.Warn("fetching tasks", "consumer", name, "err", err)
			bo.Wait(ctx)
			continue
		}
		bo.Reset()
	}
}

// pullRequest is the body of a JetStream pull request ($JS.API.CONSUMER.MSG.NEXT).
type pullRequest struct {
	Batch     int           `json:"batch"`
	Expires   time.Duration `json:"expires"`
	Heartbeat time.Duration `json:"idle_heartbeat"`
}

// pullTasks runs one pull request for n tasks on consumer name, handing
// each task to fn as it arrives. It returns how many arrived (each took
// one reserved slot, and was handed to fn or nakked).
//
// It speaks the pull protocol itself rather than through nats.go's Fetch:
// a cancelled Fetch unsubscribes and drops the tasks it has buffered or
// that are still on the wire, and they wait out AckWait. Here, when ctx
// ends, the request's inbox is drained: the server serves a pull request
// only while its reply subject has interest, so once it has seen the
// UNSUB it drops the request (a task it picked just before and routes
// after finds no subscriber and is redelivered at once, the server's
// own doing), and what it sent before arrives ahead of the drain's
// flush. Those tasks are nakked. The stopped consumer keeps no request
// open, so it cannot catch and bounce tasks after it stops, each bounce
// raising NumDelivered.
func (s *Store) pullTasks(ctx context.Context, stream, name string, n int, slots chan struct{}, fn func(engine.Delivery)) (got int, err error) {
	inbox := s.nc.NewInbox()
	// Room for every task of the request and its status messages: a full
	// channel drops messages (slow consumer).
	msgs := make(chan *nats.Msg, n+16)
	sub, err := s.nc.ChanSubscribe(inbox, msgs)
	if err != nil {
		return 0, fmt.Errorf("pulling from %s: %w", name, err)
	}
	closed := sub.StatusChanged(nats.SubscriptionClosed)
	live := true // the server may still deliver to inbox
	defer func() {
		if live {
			got += s.handBack(sub, closed, msgs, slots)
		} else {
			_ = sub.Unsubscribe()
		}
	}()
	expiry := taskPullExpiry
	if s.lay.sharded() {
		expiry = shardedPullExpiry
	}
	req, err := json.Marshal(pullRequest{Batch: n, Expires: expiry, Heartbeat: taskPullHeartbeat})
	if err != nil {
		return 0, err
	}
	if err := s.nc.PublishRequest(pullSubjectPrefix+stream+"."+name, inbox, req); err != nil {
		return 0, fmt.Errorf("pulling from %s: %w", name, err)
	}
	hb := time.NewTimer(2 * taskPullHeartbeat)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return got, nil
		case <-hb.C:
			return got, fmt.Errorf("pulling from %s: no heartbeat from the server in %s", name, 2*taskPullHeartbeat)
		case m := <-msgs:
			hb.Reset(2 * taskPullHeartbeat)
			status, desc := pullStatus(m)
			switch status {
			case "":
				got++
				if ctx.Err() != nil {
					s.handBackTask(m, slots)
					return got, nil
				}
				d := newDelivery(s.nc, m, s.opts.AckWait, func() { <-slots })
				s.clock.observe(d.stored)
				fn(d)
				if got == n {
					live = false // the server ended the request with its last task
					return got, nil
				}
			case "100": // idle heartbeat: the request is still waiting
			case "404", "408": // no tasks, or the request expired
				live = false
				return got, nil
			default:
				live = false
				return got, fmt.Errorf("pulling from %s: %s %s", name, status, desc)
			}
		}
	}
}

// handBackTask naks a task that was not started, for immediate redelivery
// to another worker, and frees its slot.
func (s *Store) handBackTask(m *nats.Msg, slots chan struct{}) {
	if err := s.nc.Publish(m.Reply, ackNak); err != nil {
		s.log.Warn("handing back a task failed; it is redelivered after AckWait", "subject", m.Subject, "err", err)
	}
	<-slots
}

// pullStatus returns the status code and description of a status message
// of the pull protocol, or "" for a task.
func pullStatus(m *nats.Msg) (code, desc string) {
	if len(m.Data) > 0 || len(m.Header) == 0 {
		return "", ""
	}
	return m.Header.Get(hdrStatus), m.Header.Get(hdrStatusDescriptor)
}

// handBack ends a pull request that may still be live: it drains the
// request's subscription and naks every task that arrives until the drain
// is over. It returns how many tasks it nakked (each frees its slot).
func (s *Store) handBack(sub *nats.Subscription, closed <-chan nats.SubStatus, msgs chan *nats.Msg, slots chan struct{}) int {
	naked := 0
	nak := func(m *nats.Msg) {
		if code, _ := pullStatus(m); code == "" {
			s.handBackTask(m, slots)
			naked++
		}
	}
	if err := sub.Drain(); err != nil {
		_ = sub.Unsubscribe()
	} else {
		// The drain is over (the subscription closed) one round trip after
		// the UNSUB; bounded in case the connection fails meanwhile.
		deadline := time.NewTimer(handBackTimeout)
		defer deadline.Stop()
		poll := time.NewTicker(50 * time.Millisecond)
		defer poll.Stop()
	wait:
		for {
			select {
			case m := <-msgs:
				nak(m)
			case <-closed:
				break wait
			case <-poll.C:
				if s.nc.IsClosed() {
					break wait
				}
			case <-deadline.C:
				s.log.Warn("handing back tasks: the pull request did not end in time", "subject", sub.Subject)
				break wait
			}
		}
	}
	for {
		select {
		case m := <-msgs:
			nak(m)
		default:
			return naked
		}
	}
}

// taskConsumer makes sure the durable consumer of one task queue exists
// on stream with the wanted configuration, once per store unless forgotten
// (a pull that fails forgets it, so the next one checks again).
func (s *Store) taskConsumer(ctx context.Context, stream, name, subj string) error {
	key := stream + "." + name
	s.mu.Lock()
	known := s.consumers[key]
	s.mu.Unlock()
	if known {
		return nil
	}
	_, err := s.ensureConsumer(ctx, stream, natsjs.ConsumerConfig{
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
	if err != nil && !errors.Is(err, errConsumerUnanswered) {
		return err
	}
	if err != nil {
		// Most likely a leader change: pull from it as it is. A pull that
		// fails brings the check back.
		s.log.Warn("task consumer lookup unanswered; pulling from it as it is", "consumer", name, "err", err)
	}
	s.mu.Lock()
	s.consumers[key] = true
	s.mu.Unlock()
	return nil
}

func (s *Store) forgetConsumer(stream, name string) {
	s.mu.Lock()
	delete(s.consumers, stream+"."+name)
	s.mu.Unlock()
}

// Acknowledgements are published to a delivered task's reply subject.
var (
	ackAck      = []byte("+ACK")
	ackNak      = []byte("-NAK")
	ackProgress = []byte("+WPI")
)

// delivery is one task handed to a worker.
type delivery struct {
	nc           *nats.Conn
	m            *nats.Msg
	numDelivered uint64
	release      func()
	once         sync.Once
	ackWait      time.Duration
	stored       time.Time // the server's time when it stored the task
}

func newDelivery(nc *nats.Conn, m *nats.Msg, ackWait time.Duration, release func()) *delivery {
	d := &delivery{nc: nc, m: m, release: release, numDelivered: 1, ackWait: ackWait}
	if md, err := m.Metadata(); err == nil { // parses the reply subject
		d.numDelivered, d.stored = md.NumDelivered, md.Timestamp
	}
	return d
}

func (d *delivery) end() { d.once.Do(d.release) }

// AckWait is how long the task may go without Ack, Nak or InProgress
// before it is redelivered.
func (d *delivery) AckWait() time.Duration { return d.ackWait }

// Data is the task as published.
func (d *delivery) Data() []byte { return d.m.Data }

// NumDelivered counts deliveries of this task (1 the first time), as the
// server tracks it.
func (d *delivery) NumDelivered() uint64 { return d.numDelivered }

// Ack acknowledges the task. It does not wait for the server to confirm:
// the connection delivers it in order with everything published before
// (a closing connection flushes it), and an ack lost with the connection
// brings the task back after AckWait, which every task tolerates (its
// outcome was saved first: the duplicate is dropped as stale). Waiting
// cost a round trip per task, and a reply from the server.
func (d *delivery) Ack(context.Context) error {
	defer d.end()
	if err := d.nc.Publish(d.m.Reply, ackAck); err != nil {
		return fmt.Errorf("acking task %s: %w", d.m.Subject, err)
	}
	return nil
}

// Nak hands the task back for redelivery after delay (at once if delay <= 0).
func (d *delivery) Nak(delay time.Duration) error {
	defer d.end()
	body := ackNak
	if delay > 0 {
		body = fmt.Appendf(nil, "%s {\"delay\": %d}", ackNak, delay.Nanoseconds())
	}
	if err := d.nc.Publish(d.m.Reply, body); err != nil {
		return fmt.Errorf("nakking task %s: %w", d.m.Subject, err)
	}
	return nil
}

// InProgress resets the task's redelivery deadline (AckWait).
func (d *delivery) InProgress() error {
	if err := d.nc.Publish(d.m.Reply, ackProgress); err != nil {
		return fmt.Errorf("task %s in progress: %w", d.m.Subject, err)
	}
	return nil
}

// publish stores m in its stream and returns the sequence the stream gave
// it: what nats.go's JetStream PublishMsg does (a request, retried on no
// responders as it does, to ride out a leader change), but the server's
// usual answer, {"stream":"…","seq":N} or with "duplicate":true, is read
// without encoding/json's reflection, which cost ~4 % of the engine's CPU
// on the hot path (two such answers per activity). Any other answer (an
// error, something unexpected) takes the general decoding.
func (s *Store) publish(ctx context.Context, m *nats.Msg) (uint64, error) {
	// The caller's deadline, when it has one, rules here: an append that
	// is not idempotent must not be abandoned early only to leave its
	// outcome unknown; publishIdempotent bounds each of its attempts.
	ctx, cancel := withDefaultTimeout(ctx, defaultTimeout)
	defer cancel()
	resp, err := s.nc.RequestMsgWithContext(ctx, m)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < natsjs.DefaultPubRetryAttempts; r++ {
		select {
		case <-ctx.Done():
		case <-time.After(natsjs.DefaultPubRetryWait):
		}
		resp, err = s.nc.RequestMsgWithContext(ctx, m)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return 0, natsjs.ErrNoStreamResponse
	}
	if err != nil {
		return 0, err
	}
	return parsePubAck(resp.Data)
}

var (
	pubAckPrefix = []byte(`{"stream":"`)
	pubAckSeq    = []byte(`"seq":`)
)

// parsePubAck returns the sequence of a JetStream publish answer, or the
// error it carries.
func parsePubAck(data []byte) (uint64, error) {
	if bytes.HasPrefix(data, pubAckPrefix) && !bytes.Contains(data, []byte(`"error"`)) {
		if i := bytes.Index(data, pubAckSeq); i > 0 {
			rest := data[i+len(pubAckSeq):]
			n := 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if seq, err := strconv.ParseUint(string(rest[:n]), 10, 64); err == nil && n < len(rest) && (rest[n] == ',' || rest[n] == '}') {
				return seq, nil
			}
		}
	}
	var ack struct {
		Error    *natsjs.APIError `json:"error,omitempty"`
		Stream   string           `json:"stream"`
		Sequence uint64           `json:"seq"`
	}
	if err := json.Unmarshal(data, &ack); err != nil {
		return 0, natsjs.ErrInvalidJSAck
	}
	if ack.Error != nil {
		return 0, fmt.Errorf("nats: %w", ack.Error)
	}
	if ack.Stream == "" {
		return 0, natsjs.ErrInvalidJSAck
	}
	return ack.Sequence, nil
}
