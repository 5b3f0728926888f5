package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/backoff"
)

const (
	historyMaxAckPending = 10000
	// historyGather is the most batches handed to fn at once.
	historyGather = 512
	// recentAcked is how many acked sequences are remembered to drop
	// redeliveries of batches already handled.
	recentAcked = 1 << 14
)

// ConsumeHistory delivers every batch of every run to the durable pull
// consumer durable, in append order, at least once.
//
// It blocks for the first available batch, then takes whatever else has
// already arrived (up to 512) and calls fn with them all. On nil it acks
// them (the last one confirmed by the server, so the acks are durable
// before more is handled). On error it calls fn again with the same
// batches after a backoff, keeping them in progress meanwhile: a Nak would
// let later batches of the same run overtake them. It returns ctx.Err()
// when ctx ends.
//
// In a sharded store each shard's stream has its own durable of that name,
// consumed concurrently: fn may be called from several goroutines at once,
// each call with batches of one shard (a run's batches keep their order,
// a run living on one shard).
func (s *Store) ConsumeHistory(ctx context.Context, durable string, fn func([]engine.StoredBatch) error) error {
	return s.ConsumeHistoryHolding(ctx, durable, func(batches []engine.StoredBatch, _ func(int) (engine.HeldBatch, bool)) error {
		return fn(batches)
	})
}

// ConsumeHistoryHolding is ConsumeHistory whose fn may hold batches
// unacknowledged past its return (engine.HistoryHolder, consume_held.go).
func (s *Store) ConsumeHistoryHolding(ctx context.Context, durable string, fn func([]engine.StoredBatch, func(int) (engine.HeldBatch, bool)) error) error {
	if err := checkToken("durable consumer name", durable, 64); err != nil {
		return fmt.Errorf("consuming history: %w", err)
	}
	cfg := natsjs.ConsumerConfig{
		Durable:       durable,
		Description:   "Foreman history consumer",
		DeliverPolicy: natsjs.DeliverAllPolicy,
		AckPolicy:     natsjs.AckExplicitPolicy,
		AckWait:       s.opts.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: historyMaxAckPending,
		ReplayPolicy:  natsjs.ReplayInstantPolicy,
		Replicas:      s.opts.Replicas,
	}
	var wg sync.WaitGroup
	for i := range s.lay.n {
		hc := &historyConsumer{s: s, stream: s.lay.historyStream(i), durable: durable, fn: fn, acked: newSeqRing(recentAcked)}
		hc.held = newHeldSet(hc)
		stopHeld := make(chan struct{})
		wg.Go(func() { hc.held.keepInProgress(stopHeld, s.opts.AckWait) })
		wg.Go(func() {
			defer close(stopHeld) // the held batches go back: nothing handles them now
			bo := backoff.Loop{Policy: retryLoop}
			for {
				err := hc.run(ctx, cfg)
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("history consumer restarting", "durable", durable, "stream", hc.stream, "err", err)
				bo.Wait(ctx)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

type historyConsumer struct {
	s       *Store
	stream  string
	durable string
	fn      func([]engine.StoredBatch, func(int) (engine.HeldBatch, bool)) error
	acked   *seqRing
	held    *heldSet
}

// run consumes until ctx ends or the message iterator fails.
func (hc *historyConsumer) run(ctx context.Context, cfg natsjs.ConsumerConfig) error {
	cons, err := hc.s.ensureConsumer(ctx, hc.stream, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages(pullOpts(natsjs.PullMaxMessages(historyGather))...)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", hc.durable, err)
	}
	feed := make(chan natsjs.Msg, historyGather)
	iterErr := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		it.Stop()
		// Hand back what was fetched and not handled, for a prompt
		// redelivery in order.
		for m := range feed {
			_ = m.Nak()
		}
	}()
	go func() {
		defer close(feed)
		for {
			m, err := it.Next()
			if err != nil {
				iterErr <- err
				return
			}
			select {
			case feed <- m:
			case <-runCtx.Done():
				_ = m.Nak()
				return
			}
		}
	}()

	msgs := make([]natsjs.Msg, 0, historyGather)
	batches := make([]engine.StoredBatch, 0, historyGather)
	inBatch := make(map[uint64]struct{}, historyGather)
	for {
		msgs, batches = msgs[:0], batches[:0]
		select {
		case m, ok := <-feed:
			if !ok {
				return <-iterErr
			}
			msgs = append(msgs, m)
		case <-ctx.Done():
			return ctx.Err()
		}
	gather:
		for len(msgs) < historyGather {
			select {
			case m, ok := <-feed:
				if !ok {
					break gather
				}
				msgs = append(msgs, m)
			default:
				break gather
			}
		}
		keep := msgs[:0]
		clear(inBatch)
		for _, m := range msgs {
			b, err := batchFromJS(m)
			hc.s.clock.observe(b.Time)
			if err != nil {
				// Not a foreman batch: it can never be handled.
				hc.s.log.Error("dropping undecodable history message", "durable", hc.durable, "subject", m.Subject(), "err", err)
				_ = m.Term()
				continue
			}
			if hc.held.adopt(b.Seq, m) {
				continue // a batch held: its handle acks this delivery too
			}
			if hc.acked.has(b.Seq) {
				// A redelivery of a batch already handled (its ack raced
				// AckWait): confirm it again, do not hand it over twice.
				_ = m.Ack()
				continue
			}
			// Acked with the others, handed over once.
			keep = append(keep, m)
			if _, dup := inBatch[b.Seq]; dup {
				continue
			}
			inBatch[b.Seq] = struct{}{}
			batches = append(batches, b)
		}
		msgs = keep
		if len(msgs) == 0 {
			continue
		}
		if err := hc.handle(ctx, msgs, batches); err != nil {
			return err // ctx ended; msgs are redelivered
		}
	}
}

// handle calls fn until it succeeds (or ctx ends), then acks what fn did
// not hold.
func (hc *historyConsumer) handle(ctx context.Context, msgs []natsjs.Msg, batches []engine.StoredBatch) error {
	bo := backoff.Loop{Policy: retryLoop}
	var call *holdCall
	for attempt := 1; ; attempt++ {
		call = hc.held.newCall(batches)
		err := hc.callKeepingInProgress(msgs, batches, call.hold)
		if err == nil {
			msgs = call.close(true, msgs)
			break
		}
		call.close(false, msgs)
		hc.s.log.Warn("history consumer handler failed; retrying the same batches", "durable", hc.durable,
			"first_seq", batches[0].Seq, "count", len(batches), "attempt", attempt, "err", err)
		if !bo.Wait(ctx) {
			for _, m := range msgs {
				_ = m.Nak()
			}
			return ctx.Err()
		}
		for _, m := range msgs {
			_ = m.InProgress()
		}
	}
	if len(msgs) == 0 {
		return nil // all held
	}
	last := len(msgs) - 1
	for _, m := range msgs[:last] {
		_ = m.Ack()
	}
	// Bounded like one publish attempt: an ack sent to a consumer leader
	// that just died is never confirmed, and waiting the 5 s default held
	// every run's dispatch that long (TestClusterLosesEngineNode).
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishAttempt)
	defer cancel()
	if err := msgs[last].DoubleAck(actx); err != nil && !errors.Is(err, natsjs.ErrMsgAlreadyAckd) {
		// At-least-once still holds: unconfirmed batches come back and are
		// dropped as already handled if still remembered.
		hc.s.log.Warn("history ack not confirmed", "durable", hc.durable, "last_seq", batches[len(batches)-1].Seq, "err", err)
	}
	held := call.held()
	for _, b := range batches {
		if held[b.Seq] == nil { // a held one is remembered once its handle acks it
			hc.acked.add(b.Seq)
		}
	}
	return nil
}

// callKeepingInProgress runs fn, telling the server the batches are in
// progress every third of AckWait while it runs. A timer rather than a
// goroutine with a ticker: fn almost always returns long before the first
// tick, and a goroutine per call cost ~0.5 % of the engine's CPU under the
// throughput benchmark (issue 21).
func (hc *historyConsumer) callKeepingInProgress(msgs []natsjs.Msg, batches []engine.StoredBatch, hold func(int) (engine.HeldBatch, bool)) error {
	every := hc.s.opts.AckWait / 3
	var mu sync.Mutex // held while telling; done once fn returned
	done := false
	var tick *time.Timer
	mu.Lock()
	tick = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		for _, m := range msgs {
			_ = m.InProgress()
		}
		tick.Reset(every)
	})
	mu.Unlock()
	defer func() {
		mu.Lock()
		done = true // msgs is reused by the caller: no InProgress after this
		tick.Stop()
		mu.Unlock()
	}()
	return hc.fn(batches, hold)
}

// seqRing remembers the last n sequences added (held batches are added
// from their handles' goroutines, hence the lock).
type seqRing struct {
	mu   sync.Mutex
	ring []uint64
	next int
	set  map[uint64]struct{}
}

func newSeqRing(n int) *seqRing {
	return &seqRing{ring: make([]uint64, n), set: make(map[uint64]struct{}, n)}
}

func (r *seqRing) has(seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[seq]
	return ok
}

func (r *seqRing) add(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.ring[r.next]; old != 0 {
		delete(r.set, old)
	}
	r.ring[r.next] = seq
	r.set[seq] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}
