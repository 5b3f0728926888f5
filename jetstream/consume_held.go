package jetstream

import (
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// Held history batches (engine.HistoryHolder). The dispatcher keeps the
// batch that claims eager attempts unacknowledged until their outcome is
// appended, instead of storing a guard task per attempt: the unacked
// message is the durable reminder, redelivered to the next dispatcher if
// this one dies. A held message is kept in progress here, so that the
// handler's hold may outlast AckWait; it is handed back (Nak) when the
// consumer stops.

// historyMaxHeld bounds the batches one consumer holds: they count
// against MaxAckPending, which engines sharing the durable share too, and
// the batches that end a hold must still be delivered. (Held for
// milliseconds each, a few are held at a time; thousands only when
// thousands of eager attempts a second outlast the hold's delay, and then
// the rest are guarded at once.)
const historyMaxHeld = historyMaxAckPending / 4

// heldState is where a held batch is in its life.
type heldState uint8

const (
	heldPending heldState = iota // taken during a handler call not yet returned
	heldLive                     // the handler returned: the handle owns the ack
	heldOver                     // acked, nakked, or void (the call failed)
)

// heldSet is one consumer's live held batches.
type heldSet struct {
	hc *historyConsumer

	mu    sync.Mutex
	count int                   // pending and live holds
	live  map[uint64]*heldBatch // by stream sequence
}

func newHeldSet(hc *historyConsumer) *heldSet {
	return &heldSet{hc: hc, live: map[uint64]*heldBatch{}}
}

// heldBatch is a handle on a held batch (engine.HeldBatch).
type heldBatch struct {
	set *heldSet
	seq uint64

	mu    sync.Mutex
	state heldState
	want  int8 // while pending: 1 Ack, -1 Nak asked for
	msgs  []natsjs.Msg
}

func (h *heldBatch) Ack() { h.end(true) }
func (h *heldBatch) Nak() { h.end(false) }

func (h *heldBatch) end(ack bool) {
	h.mu.Lock()
	switch h.state {
	case heldPending:
		if h.want == 0 {
			h.want = -1
			if ack {
				h.want = 1
			}
		}
		h.mu.Unlock()
	case heldLive:
		h.state = heldOver
		msgs := h.msgs
		h.mu.Unlock()
		h.set.finish(h, msgs, ack)
	default:
		h.mu.Unlock()
	}
}

// finish ends a live hold: out of the set, then acked or handed back.
func (s *heldSet) finish(h *heldBatch, msgs []natsjs.Msg, ack bool) {
	s.mu.Lock()
	if s.live[h.seq] == h {
		delete(s.live, h.seq)
	}
	s.count--
	s.mu.Unlock()
	for _, m := range msgs {
		if ack {
			_ = m.Ack()
		} else {
			_ = m.Nak()
		}
	}
	if ack {
		s.hc.acked.add(h.seq)
	}
}

// adopt takes a redelivery of a live held batch (its hold outlasted the
// redelivery deadline after all): the handle acks it too, and the
// handler is not called again for it.
func (s *heldSet) adopt(seq uint64, m natsjs.Msg) bool {
	s.mu.Lock()
	h := s.live[seq]
	s.mu.Unlock()
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != heldLive {
		return false
	}
	h.msgs = append(h.msgs, m)
	return true
}

// keepInProgress tells the server, every third of AckWait, that the held
// batches are still being worked on, until stop; then hands back those
// still held, for the next consumer.
func (s *heldSet) keepInProgress(stop <-chan struct{}, ackWait time.Duration) {
	tick := time.NewTicker(ackWait / 3)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			for _, h := range s.snapshot() {
				h.Nak()
			}
			return
		case <-tick.C:
			for _, h := range s.snapshot() {
				h.mu.Lock()
				msgs := h.msgs
				if h.state != heldLive {
					msgs = nil
				}
				h.mu.Unlock()
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}
}

func (s *heldSet) snapshot() []*heldBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*heldBatch, 0, len(s.live))
	for _, h := range s.live {
		out = append(out, h)
	}
	return out
}

// holdCall is the holds one handler call takes.
type holdCall struct {
	set     *heldSet
	batches []engine.StoredBatch

	mu    sync.Mutex
	over  bool
	taken map[uint64]*heldBatch
}

// held is the call's holds by batch sequence (nil if none).
func (c *holdCall) held() map[uint64]*heldBatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.taken
}

func (s *heldSet) newCall(batches []engine.StoredBatch) *holdCall {
	return &holdCall{set: s, batches: batches}
}

// hold is the handler's hold(i).
func (c *holdCall) hold(i int) (engine.HeldBatch, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over || i < 0 || i >= len(c.batches) {
		return nil, false
	}
	seq := c.batches[i].Seq
	if h := c.taken[seq]; h != nil {
		return h, true
	}
	c.set.mu.Lock()
	full := c.set.count >= historyMaxHeld
	if !full {
		c.set.count++
	}
	c.set.mu.Unlock()
	if full {
		return nil, false
	}
	if c.taken == nil {
		c.taken = map[uint64]*heldBatch{}
	}
	h := &heldBatch{set: c.set, seq: seq}
	c.taken[seq] = h
	return h, true
}

// close ends the call: if ok, the held batches' messages go to their
// handles (and an Ack or Nak asked for meanwhile is done now), and the
// others are returned, to be acked; if not, the holds are void.
func (c *holdCall) close(ok bool, msgs []natsjs.Msg) (rest []natsjs.Msg) {
	c.mu.Lock()
	c.over = true
	holds := c.taken
	if !ok {
		c.taken = nil
	}
	c.mu.Unlock()
	if !ok {
		for _, h := range holds {
			h.mu.Lock()
			h.state = heldOver
			h.mu.Unlock()
		}
		c.set.mu.Lock()
		c.set.count -= len(holds)
		c.set.mu.Unlock()
		return msgs
	}
	if len(holds) == 0 {
		return msgs
	}
	rest = msgs[:0:0]
	for _, m := range msgs {
		meta, err := m.Metadata()
		if err == nil {
			if h := holds[meta.Sequence.Stream]; h != nil {
				h.msgs = append(h.msgs, m) // not yet shared: still pending
				continue
			}
		}
		rest = append(rest, m)
	}
	for _, h := range holds {
		c.set.mu.Lock()
		c.set.live[h.seq] = h
		c.set.mu.Unlock()
		h.mu.Lock()
		h.state = heldLive
		want := h.want
		h.mu.Unlock()
		if want != 0 {
			h.end(want > 0)
		}
	}
	return rest
}
