package jetstream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// appendHistory (AppendHistory, observe.go) publishes one batch on the run's subject (fm.h.<runID>,
// or fm.h.<shard>.<runID> in a sharded store) if the run's last batch
// is still at expectedSeq (the server checks
// Nats-Expected-Last-Subject-Sequence; 0 means "no batch yet"). One round
// trip. A retried append with the same msgID returns the original
// sequence: inside the server's duplicate window (duplicateWindow) by dedupe, and
// at any time when the batch right after expectedSeq carries msgID.
func (s *Store) appendHistory(ctx context.Context, h engine.BatchHeader, data []byte, expectedSeq uint64, msgID string) (uint64, error) {
	subj, shard, err := s.lay.historySubject(h.RunID)
	if err != nil {
		return 0, fmt.Errorf("appending history: %w", err)
	}
	hdr := make(nats.Header, 12)
	if err := encodeBatchHeader(h, hdr); err != nil {
		return 0, fmt.Errorf("appending history for run %s: %w", h.RunID, err)
	}
	hdr[hdrExpectedSubjSeq] = []string{strconv.FormatUint(expectedSeq, 10)}
	if msgID != "" {
		if !headerSafe(msgID) {
			return 0, fmt.Errorf("appending history for run %s: %w: message id %q has control characters or surrounding spaces", h.RunID, ErrInvalidName, msgID)
		}
		hdr[hdrMsgID] = []string{msgID}
	}
	m := &nats.Msg{Subject: subj, Header: hdr, Data: data}
	var seq uint64
	if msgID != "" {
		seq, err = s.publishIdempotent(ctx, m)
	} else {
		// Not retried (an append that landed unanswered would conflict with
		// its own retry); publish bounds it by the default timeout.
		seq, err = s.publish(ctx, m)
	}
	if err != nil {
		if msgID != "" && isWrongLastSequence(err) {
			// nats-server checks the expected sequence before the
			// duplicate window, so a retry of an append that did land
			// conflicts: see whether the batch after expectedSeq is ours.
			if seq, ok := s.appendedAs(ctx, shard, subj, expectedSeq, msgID); ok {
				return seq, nil
			}
		}
		return 0, fmt.Errorf("appending history for run %s after seq %d: %w", h.RunID, expectedSeq, mapPublishError(err))
	}
	return seq, nil
}

// appendedAs reports the sequence of the batch that follows expectedSeq on
// subj if it carries msgID.
func (s *Store) appendedAs(ctx context.Context, shard int, subj string, expectedSeq uint64, msgID string) (uint64, bool) {
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	res, err := s.dgs[shard].get(ctx, expectedSeq+1, subj, 1)
	if err != nil || len(res.msgs) == 0 || res.msgs[0].Header.Get(hdrMsgID) != msgID {
		return 0, false
	}
	seq, err := strconv.ParseUint(res.msgs[0].Header.Get(hdrSequence), 10, 64)
	return seq, err == nil
}

// ReadHistory reads the run's batches after afterSeq with batched direct
// gets: up to 256 batches per round trip.
func (s *Store) ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error) {
	subj, shard, err := s.lay.historySubject(runID)
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	out := []engine.StoredBatch{}
	seq := afterSeq + 1
	for {
		res, err := s.dgs[shard].get(ctx, seq, subj, directGetBatch)
		if err != nil {
			return nil, fmt.Errorf("reading history of run %s: %w", runID, err)
		}
		if res.notFound {
			return out, nil
		}
		if len(out) == 0 && len(res.msgs) > 0 {
			// The first message tells how many follow.
			if n, err := strconv.Atoi(res.msgs[0].Header.Get(hdrNumPending)); err == nil && n < 1<<20 {
				out = make([]engine.StoredBatch, 0, n+1)
			}
		}
		for _, m := range res.msgs {
			b, err := batchFromDirect(m)
			if err != nil {
				return nil, fmt.Errorf("reading history of run %s: %w", runID, err)
			}
			s.clock.observe(b.Time)
			out = append(out, b)
		}
		if res.pending == 0 || res.lastSeq < seq {
			return out, nil
		}
		seq = res.lastSeq + 1
	}
}

// LastBatch returns the run's newest batch (direct get, last by subject).
func (s *Store) LastBatch(ctx context.Context, runID string) (engine.StoredBatch, error) {
	subj, shard, err := s.lay.historySubject(runID)
	if err != nil {
		return engine.StoredBatch{}, fmt.Errorf("reading last batch: %w", err)
	}
	m, err := s.histShards[shard].GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return engine.StoredBatch{}, fmt.Errorf("last batch of run %s: %w", runID, engine.ErrNotFound)
	}
	if err != nil {
		return engine.StoredBatch{}, fmt.Errorf("last batch of run %s: %w", runID, err)
	}
	h, err := decodeBatchHeader(m.Header)
	if err != nil {
		return engine.StoredBatch{}, fmt.Errorf("last batch of run %s (seq %d): %w", runID, m.Sequence, err)
	}
	s.clock.observe(m.Time)
	return engine.StoredBatch{Seq: m.Sequence, Header: h, Data: m.Data, Time: m.Time}, nil
}

// FollowHistory streams the run's batches after afterSeq through an
// ordered consumer: existing ones, then new ones as they are appended.
func (s *Store) FollowHistory(ctx context.Context, runID string, afterSeq uint64, fn func(engine.StoredBatch) error) error {
	subj, shard, err := s.lay.historySubject(runID)
	if err != nil {
		return fmt.Errorf("following history: %w", err)
	}
	cfg := natsjs.OrderedConsumerConfig{FilterSubjects: []string{subj}, DeliverPolicy: natsjs.DeliverAllPolicy}
	if afterSeq > 0 {
		cfg.DeliverPolicy = natsjs.DeliverByStartSequencePolicy
		cfg.OptStartSeq = afterSeq + 1
	}
	return s.followOrdered(ctx, s.lay.historyStream(shard), cfg, func(m natsjs.Msg) error {
		b, err := batchFromJS(m)
		if err != nil {
			return fmt.Errorf("following history of run %s: %w", runID, err)
		}
		s.clock.observe(b.Time)
		return fn(b)
	})
}

// followOrdered runs an ordered consumer on stream, calling fn for each
// message until ctx ends (ctx.Err()) or fn fails (its error).
func (s *Store) followOrdered(ctx context.Context, stream string, cfg natsjs.OrderedConsumerConfig, fn func(natsjs.Msg) error) error {
	// A follower that dies is cleaned up by the server soon; one that ends
	// deletes its consumer at once (the server caps consumers per stream).
	cfg.InactiveThreshold = 15 * time.Second
	cons, err := s.js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("ordered consumer on %s: %w", stream, err)
	}
	it, err := cons.Messages(pullOpts()...)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("ordered consumer on %s: %w", stream, err)
	}
	defer func() {
		it.Stop()
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = s.js.DeleteConsumer(dctx, stream, info.Name)
			cancel()
		}
	}()
	for {
		m, err := it.Next(natsjs.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("ordered consumer on %s: %w", stream, err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

// encodeBatchHeader writes h as Fm-* headers (bools as "1" or absent).
func encodeBatchHeader(h engine.BatchHeader, hdr nats.Header) error {
	hdr[hdrRun] = []string{h.RunID}
	if h.WorkflowID != "" {
		if headerSafe(h.WorkflowID) {
			hdr[hdrWf] = []string{h.WorkflowID}
		} else {
			hdr[hdrWfB64] = []string{base64.RawURLEncoding.EncodeToString([]byte(h.WorkflowID))}
		}
	}
	if h.TaskQueue != "" {
		if err := CheckQueueName(h.TaskQueue); err != nil {
			return err
		}
		hdr[hdrQueue] = []string{h.TaskQueue}
	}
	if h.Kind != "" {
		if !headerSafe(string(h.Kind)) {
			return fmt.Errorf("%w: batch kind %q has control characters or surrounding spaces", ErrInvalidName, h.Kind)
		}
		hdr[hdrKind] = []string{string(h.Kind)}
	}
	hdr[hdrFirst] = []string{strconv.FormatInt(h.FirstEventID, 10)}
	hdr[hdrLast] = []string{strconv.FormatInt(h.LastEventID, 10)}
	if h.Closed {
		hdr[hdrClosed] = []string{"1"}
	}
	if h.Wake {
		hdr[hdrWake] = []string{"1"}
	}
	if h.Derive {
		hdr[hdrDerive] = []string{"1"}
	}
	if h.Lone {
		hdr[hdrLone] = []string{"1"}
	}
	if h.EagerStart {
		hdr[hdrEagerStart] = []string{"1"}
	}
	if h.Sum != "" {
		if !headerSafe(h.Sum) {
			return fmt.Errorf("%w: batch sum %q has control characters or surrounding spaces", ErrInvalidName, h.Sum)
		}
		hdr[hdrSum] = []string{h.Sum}
	}
	if h.Eager != "" {
		if !headerSafe(h.Eager) {
			return fmt.Errorf("%w: eager claim %q has control characters or surrounding spaces", ErrInvalidName, h.Eager)
		}
		hdr[hdrEager] = []string{h.Eager}
	}
	if h.Settles != "" {
		if !headerSafe(h.Settles) {
			return fmt.Errorf("%w: settled activities %q have control characters or surrounding spaces", ErrInvalidName, h.Settles)
		}
		hdr[hdrSettle] = []string{h.Settles}
	}
	if h.Trace != "" {
		if !headerSafe(h.Trace) {
			return fmt.Errorf("%w: traceparent %q has control characters or surrounding spaces", ErrInvalidName, h.Trace)
		}
		hdr[hdrTrace] = []string{h.Trace}
	}
	return nil
}

// decodeBatchHeader reads the Fm-* headers back.
func decodeBatchHeader(hdr nats.Header) (engine.BatchHeader, error) {
	h := engine.BatchHeader{
		RunID:      hdr.Get(hdrRun),
		TaskQueue:  hdr.Get(hdrQueue),
		Kind:       engine.BatchKind(hdr.Get(hdrKind)),
		Closed:     hdr.Get(hdrClosed) == "1",
		Wake:       hdr.Get(hdrWake) == "1",
		Derive:     hdr.Get(hdrDerive) == "1",
		Lone:       hdr.Get(hdrLone) == "1",
		EagerStart: hdr.Get(hdrEagerStart) == "1",
		Sum:        hdr.Get(hdrSum),
		Eager:      hdr.Get(hdrEager),
		Settles:    hdr.Get(hdrSettle),
		Trace:      hdr.Get(hdrTrace),
	}
	if h.RunID == "" {
		return h, fmt.Errorf("batch has no %s header: not written by foreman", hdrRun)
	}
	h.WorkflowID = hdr.Get(hdrWf)
	if enc := hdr.Get(hdrWfB64); enc != "" {
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			return h, fmt.Errorf("batch header %s %q: %w", hdrWfB64, enc, err)
		}
		h.WorkflowID = string(b)
	}
	var err error
	if h.FirstEventID, err = parseIntHeader(hdr, hdrFirst); err != nil {
		return h, err
	}
	if h.LastEventID, err = parseIntHeader(hdr, hdrLast); err != nil {
		return h, err
	}
	return h, nil
}

func parseIntHeader(hdr nats.Header, key string) (int64, error) {
	v := hdr.Get(key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("batch header %s %q: not an integer", key, v)
	}
	return n, nil
}

// batchFromDirect decodes a direct-get reply.
func batchFromDirect(m *nats.Msg) (engine.StoredBatch, error) {
	seq, err := strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
	if err != nil {
		return engine.StoredBatch{}, fmt.Errorf("direct get reply without a valid %s header", hdrSequence)
	}
	h, err := decodeBatchHeader(m.Header)
	if err != nil {
		return engine.StoredBatch{}, fmt.Errorf("seq %d: %w", seq, err)
	}
	ts, _ := time.Parse(time.RFC3339Nano, m.Header.Get(hdrTimeStamp))
	return engine.StoredBatch{Seq: seq, Header: h, Data: m.Data, Time: ts}, nil
}

// batchFromJS decodes a consumer delivery.
func batchFromJS(m natsjs.Msg) (engine.StoredBatch, error) {
	md, err := m.Metadata()
	if err != nil {
		return engine.StoredBatch{}, fmt.Errorf("history message metadata: %w", err)
	}
	h, err := decodeBatchHeader(m.Headers())
	if err != nil {
		return engine.StoredBatch{}, fmt.Errorf("seq %d: %w", md.Sequence.Stream, err)
	}
	return engine.StoredBatch{Seq: md.Sequence.Stream, Header: h, Data: m.Data(), Time: md.Timestamp}, nil
}
