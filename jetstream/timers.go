package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// PutTimer stores t on fm.tm.<key>; the stream keeps one message per
// subject, so a later put for the same key replaces the earlier one.
func (s *Store) PutTimer(ctx context.Context, t engine.StoredTimer) error {
	subj, err := timerSubject(t.Key)
	if err != nil {
		return fmt.Errorf("putting timer: %w", err)
	}
	m := &nats.Msg{
		Subject: subj,
		Header:  nats.Header{hdrFireAt: []string{t.FireAt.UTC().Format(time.RFC3339Nano)}},
		Data:    t.Data,
	}
	// The stream keeps one message per key: a second put of the same timer
	// replaces the first, so it may be retried like a publish with an id.
	// Unbounded, the dispatcher's put to a leader that died hung forever
	// and every run behind it waited (TestClusterLosesHistoryLeader).
	if _, err := s.publishIdempotent(ctx, m); err != nil {
		return fmt.Errorf("putting timer %s: %w", t.Key, mapPublishError(err))
	}
	return nil
}

// WatchTimers calls fn for every stored timer, then for each one put later,
// until ctx ends (returning ctx.Err()). fn sees Seq set, the token for
// DeleteTimer.
func (s *Store) WatchTimers(ctx context.Context, fn func(engine.StoredTimer)) error {
	cfg := natsjs.OrderedConsumerConfig{FilterSubjects: []string{timerSubjects}, DeliverPolicy: natsjs.DeliverAllPolicy}
	return s.followOrdered(ctx, TimersStream, cfg, func(m natsjs.Msg) error {
		md, err := m.Metadata()
		if err != nil {
			s.log.Error("timer without metadata", "subject", m.Subject(), "err", err)
			return nil
		}
		s.clock.observe(md.Timestamp)
		fireAt, err := time.Parse(time.RFC3339Nano, m.Headers().Get(hdrFireAt))
		if err != nil {
			// Fire it now rather than never: its owner decides what it means.
			s.log.Error("timer with a bad fire time fires now", "subject", m.Subject(), "seq", md.Sequence.Stream, "err", err)
			fireAt = time.Time{}
		}
		fn(engine.StoredTimer{
			Key:    strings.TrimPrefix(m.Subject(), timerSubjectPrefix),
			FireAt: fireAt,
			Data:   m.Data(),
			Seq:    md.Sequence.Stream,
		})
		return nil
	})
}

// msgDeleteResponse mirrors nats-server's JSApiMsgDeleteResponse.
type msgDeleteResponse struct {
	Success bool `json:"success,omitempty"`
	Error   *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error,omitempty"`
}

// DeleteTimer removes the timer stored at seq; a timer already deleted or
// replaced is not an error. It talks to the API directly because nats.go
// flattens the error code of a failed delete into text.
func (s *Store) DeleteTimer(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return fmt.Errorf("deleting timer: sequence 0 is not a stored timer")
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	req, _ := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NoErase bool   `json:"no_erase"`
	}{seq, true})
	resp, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.DELETE."+TimersStream, req)
	if err != nil {
		return fmt.Errorf("deleting timer at seq %d: %w", seq, err)
	}
	var r msgDeleteResponse
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return fmt.Errorf("deleting timer at seq %d: bad response %q: %w", seq, resp.Data, err)
	}
	if r.Success {
		return nil
	}
	if r.Error == nil {
		return fmt.Errorf("deleting timer at seq %d: server said neither success nor error", seq)
	}
	if r.Error.ErrCode == codeSequenceNotFound ||
		(r.Error.ErrCode == codeMsgDeleteFailed && (strings.Contains(r.Error.Description, "no message found") || strings.Contains(r.Error.Description, "EOF"))) {
		return nil // already gone
	}
	return fmt.Errorf("deleting timer at seq %d: %s (code %d)", seq, r.Error.Description, r.Error.ErrCode)
}
