package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// Batched direct get (nats-server 2.11+): one request to
// $JS.API.DIRECT.GET.<stream> with {"seq", "next_by_subj", "batch"} is
// answered by up to batch messages (the stored headers plus Nats-Stream,
// Nats-Subject, Nats-Sequence, Nats-Time-Stamp, Nats-Num-Pending,
// Nats-Last-Sequence) and a final "204 EOB" status carrying
// Nats-Num-Pending (messages still matching after the last one sent) and
// Nats-Last-Sequence; "404" when nothing matches. nats.go has no API for it
// (see nats-server server/stream.go getDirectRequest).

const (
	directGetBatch    = 256
	directGetMaxBytes = 16 << 20
)

// directGetRequest mirrors nats-server's JSApiMsgGetRequest (the fields used).
type directGetRequest struct {
	Seq      uint64 `json:"seq,omitempty"`
	NextFor  string `json:"next_by_subj,omitempty"`
	Batch    int    `json:"batch,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// directGetter multiplexes batched direct-get replies over one wildcard
// inbox subscription, so a read costs no SUB/UNSUB churn on the server.
type directGetter struct {
	nc      *nats.Conn
	subject string // $JS.API.DIRECT.GET.<stream>
	prefix  string // <inbox>.
	sub     *nats.Subscription
	next    atomic.Uint64

	mu      sync.Mutex
	waiters map[string]chan *nats.Msg
}

func newDirectGetter(nc *nats.Conn, stream string) (*directGetter, error) {
	g := &directGetter{
		nc:      nc,
		subject: "$JS.API.DIRECT.GET." + stream,
		prefix:  nc.NewInbox() + ".",
		waiters: map[string]chan *nats.Msg{},
	}
	sub, err := nc.Subscribe(g.prefix+"*", g.dispatch)
	if err != nil {
		return nil, fmt.Errorf("subscribing direct-get inbox: %w", err)
	}
	// Replies are bounded by the requests in flight; never drop one.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("direct-get inbox limits: %w", err)
	}
	g.sub = sub
	return g, nil
}

func (g *directGetter) close() error { return g.sub.Unsubscribe() }

func (g *directGetter) dispatch(m *nats.Msg) {
	token := m.Subject[len(g.prefix):]
	g.mu.Lock()
	ch := g.waiters[token]
	g.mu.Unlock()
	if ch == nil {
		return // a reply to a request that gave up
	}
	select {
	case ch <- m:
	default: // cannot happen: the channel holds a whole batch and its EOB
	}
}

// batchResult is one batch-get answer.
type batchResult struct {
	msgs     []*nats.Msg
	pending  uint64 // matching messages left after lastSeq
	lastSeq  uint64
	notFound bool
}

// get runs one batched direct get: messages on subject from seq on.
func (g *directGetter) get(ctx context.Context, seq uint64, subject string, batch int) (batchResult, error) {
	var res batchResult
	req, err := json.Marshal(directGetRequest{Seq: seq, NextFor: subject, Batch: batch, MaxBytes: directGetMaxBytes})
	if err != nil {
		return res, err
	}
	token := strconv.FormatUint(g.next.Add(1), 36)
	ch := make(chan *nats.Msg, batch+1)
	g.mu.Lock()
	g.waiters[token] = ch
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.waiters, token)
		g.mu.Unlock()
	}()
	if err := g.nc.PublishRequest(g.subject, g.prefix+token, req); err != nil {
		return res, fmt.Errorf("direct get on %s: %w", subject, err)
	}
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return res, fmt.Errorf("direct get on %s from seq %d: %w", subject, seq, ctx.Err())
		}
		status := m.Header.Get(hdrStatus)
		if status == "" {
			res.msgs = append(res.msgs, m)
			continue
		}
		switch status {
		case "204": // end of batch
			res.pending, _ = strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
			res.lastSeq, _ = strconv.ParseUint(m.Header.Get(hdrLastSequence), 10, 64)
			return res, nil
		case "404":
			res.notFound = true
			return res, nil
		case "503":
			return res, fmt.Errorf("direct get on %s: no responders (stream %s missing or direct get disabled)", subject, g.subject)
		default:
			return res, fmt.Errorf("direct get on %s from seq %d: status %s %s", subject, seq, status, m.Header.Get(hdrStatusDescriptor))
		}
	}
}
