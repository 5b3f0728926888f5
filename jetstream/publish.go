package jetstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// publish stores m in its stream and returns the sequence the stream gave
// it: what nats.go's JetStream PublishMsg does (a request, retried on no
// responders as it does, to ride out a leader change), but the server's
// usual answer, {"stream":"…","seq":N} or with "duplicate":true, is read
// without encoding/json's reflection, which cost ~4 % of the engine's CPU
// on the hot path (two such answers per activity). Any other answer (an
// error, something unexpected) takes the general decoding.
func (s *Store) publish(ctx context.Context, m *nats.Msg) (uint64, error) {
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
