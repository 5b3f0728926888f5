package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// historyFromPull is how many messages the ordered consumer keeps in
// flight: enough that a reader rebuilding an index never waits on a round
// trip, small enough to bound memory (history batches are a few KB).
const historyFromPull = 4096

// historyFromMaxBuffered bounds the batches read ahead of the caller.
const historyFromMaxBuffered = 1 << 16

// ConsumeHistoryFrom reads every history batch of every run in stream
// order, starting after afterSeq (0: from the beginning), and calls fn with
// them: each call gets what has arrived, at least one and at most
// maxBatches, in order. It blocks for new batches when caught up, and returns
// ctx.Err() when ctx ends or fn's error as soon as fn fails.
//
// It is a reader, not a durable consumer: nothing is acknowledged and no
// position is kept on the server (an ordered consumer, recreated by the
// client library if it falls behind or the server restarts). The caller
// keeps its own position, as the search index does in its own storage, so
// that a position and what it covers are saved together.
//
// A message on the history stream that foreman did not write (no batch
// headers) is logged and skipped.
func (s *Store) ConsumeHistoryFrom(ctx context.Context, afterSeq uint64, maxBatches int, fn func([]engine.StoredBatch) error) error {
	return s.consumeHistoryFrom(ctx, afterSeq, maxBatches, false, fn)
}

// consumeHistoryFrom is ConsumeHistoryFrom; headersOnly leaves the batches'
// Data out (the server sends only their headers).
func (s *Store) consumeHistoryFrom(ctx context.Context, afterSeq uint64, maxBatches int, headersOnly bool, fn func([]engine.StoredBatch) error) error {
	if maxBatches < 1 {
		return fmt.Errorf("consuming history from seq %d: max %d: want at least 1", afterSeq, maxBatches)
	}
	cfg := natsjs.OrderedConsumerConfig{
		FilterSubjects:    []string{s.lay.historyFilter()},
		DeliverPolicy:     natsjs.DeliverAllPolicy,
		InactiveThreshold: 15 * time.Second,
		HeadersOnly:       headersOnly,
	}
	if afterSeq > 0 {
		cfg.DeliverPolicy = natsjs.DeliverByStartSequencePolicy
		cfg.OptStartSeq = afterSeq + 1
	}
	cons, err := s.js.OrderedConsumer(ctx, HistoryStream, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("consuming history from seq %d: %w", afterSeq, err)
	}
	it, err := cons.Messages(pullOpts(natsjs.PullMaxMessages(historyFromPull))...)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("consuming history from seq %d: %w", afterSeq, err)
	}
	defer func() {
		it.Stop()
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = s.js.DeleteConsumer(dctx, HistoryStream, info.Name)
			cancel()
		}
	}()

	// A reader goroutine keeps the next messages ready while fn runs.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// The feed holds up to max batches, so that a caller slower than the
	// stream gets full calls (fewer, larger index writes).
	feed := make(chan natsjs.Msg, min(max(maxBatches, historyFromPull), historyFromMaxBuffered))
	iterErr := make(chan error, 1)
	go func() {
		defer close(feed)
		for {
			m, err := it.Next(natsjs.NextContext(runCtx))
			if err != nil {
				iterErr <- err
				return
			}
			select {
			case feed <- m:
			case <-runCtx.Done():
				return
			}
		}
	}()

	batches := make([]engine.StoredBatch, 0, min(maxBatches, historyFromPull))
	for {
		batches = batches[:0]
		var m natsjs.Msg
		var ok bool
		select {
		case m, ok = <-feed:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("consuming history: %w", <-iterErr)
		}
		for m != nil {
			if b, err := batchFromJS(m); err != nil {
				s.log.Error("skipping undecodable history message", "subject", m.Subject(), "err", err)
			} else {
				batches = append(batches, b)
			}
			m = nil
			if len(batches) < maxBatches {
				select {
				case m = <-feed: // nil when closed: the next receive reports why
				default:
				}
			}
		}
		if len(batches) == 0 {
			continue
		}
		if err := fn(batches); err != nil {
			return err
		}
	}
}

// sourcedWait bounds how long LastHistorySeq waits for FM_HISTORY to
// source the shards. After a node loss the server re-establishes sourcing
// on its own, which took longer than a request's bound under the race
// detector; meanwhile the position is FM_HISTORY's as it is, which is all
// a result wait needs (it reads from there on, and a later close is
// sourced after it), rather than an error that failed the wait.
const sourcedWait = 2 * time.Second

// LastHistorySeq is the stream position of the newest history batch (0 when
// there is none): where a reader of the whole history stands when caught up.
// In a sharded store it is FM_HISTORY's once that holds every batch the
// shards held when it was called (the server sources them a moment
// later), so that a reader reaching it has seen a write made before; if
// sourcing lags more than sourcedWait, FM_HISTORY's position as it is.
func (s *Store) LastHistorySeq(ctx context.Context) (uint64, error) {
	if s.lay.sharded() {
		wctx, cancel := context.WithTimeout(ctx, sourcedWait)
		err := s.waitSourced(wctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("history shards not yet sourced into FM_HISTORY; using its position as it is", "err", err)
		}
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	info, err := s.history.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the last history position: %w", err)
	}
	return info.State.LastSeq, nil
}

// waitSourced waits until FM_HISTORY has sourced every shard up to the
// shard's last batch now: the newest batch it holds of each shard's
// subjects names, in its Nats-Stream-Source header ("<stream> <seq> …"),
// the shard's sequence it came from.
func (s *Store) waitSourced(ctx context.Context) error {
	for i, st := range s.histShards {
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		want := info.State.LastSeq
		for want > 0 {
			m, err := s.history.GetLastMsgForSubject(ctx, s.lay.historyPrefix(i)+"*")
			if err != nil && !errors.Is(err, natsjs.ErrMsgNotFound) {
				return err
			}
			if err == nil && sourcedSeq(m.Header) >= want {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s to source %s up to seq %d: %w", HistoryStream, s.lay.historyStream(i), want, ctx.Err())
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	return nil
}

// sourcedSeq is the source stream's sequence of a sourced message, 0 if
// it names none.
func sourcedSeq(h nats.Header) uint64 {
	f := strings.Fields(h.Get(hdrStreamSource))
	if len(f) < 2 {
		return 0
	}
	seq, _ := strconv.ParseUint(f[1], 10, 64)
	return seq
}

// HistoryBatchTime is when the history batch at stream position seq was
// stored; engine.ErrNotFound if there is none. Lag measurements use it: the
// age of the oldest batch a reader has not applied yet.
func (s *Store) HistoryBatchTime(ctx context.Context, seq uint64) (time.Time, error) {
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	m, err := s.history.GetMsg(ctx, seq)
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return time.Time{}, fmt.Errorf("history batch at seq %d: %w", seq, engine.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("history batch at seq %d: %w", seq, err)
	}
	return m.Time, nil
}
