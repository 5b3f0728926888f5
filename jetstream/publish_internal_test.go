package jetstream

import (
	"errors"
	"testing"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// The server's publish answers as nats-server 2.15 writes them (its
// pubAck template), and its errors, read back as nats.go reads them.
func TestParsePubAck(t *testing.T) {
	for _, c := range []struct {
		data string
		seq  uint64
	}{
		{`{"stream":"FM_HISTORY","seq":42}`, 42},
		{`{"stream":"FM_TASKS","seq":7,"duplicate": true}`, 7},
		{`{"stream":"FM_TASKS","domain":"hub","seq":18446744073709551615}`, 18446744073709551615},
		{`{"stream": "X", "seq": 3}`, 3}, // not the template: decoded in full
	} {
		seq, err := parsePubAck([]byte(c.data))
		if err != nil || seq != c.seq {
			t.Errorf("parsePubAck(%s) = %d, %v; want %d", c.data, seq, err, c.seq)
		}
	}
	seq, err := parsePubAck([]byte(`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}}`))
	if seq != 0 || !isWrongLastSequence(err) {
		t.Errorf("an OCC refusal read as %d, %v; want a wrong-last-sequence API error", seq, err)
	}
	for _, bad := range []string{``, `nope`, `{"stream":"S","seq":}`, `{"seq":4}`} {
		if _, err := parsePubAck([]byte(bad)); !errors.Is(err, natsjs.ErrInvalidJSAck) {
			t.Errorf("parsePubAck(%q) error %v, want ErrInvalidJSAck", bad, err)
		}
	}
}
