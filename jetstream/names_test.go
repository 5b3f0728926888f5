package jetstream_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// What the store keeps of the engine's names goes into NATS subjects and
// KV keys: names that cannot be are refused with ErrInvalidName, before
// anything is written. (The behaviour every store shares is in
// TestStoreConformance.)
func TestBadNames(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	for _, bad := range []string{"", "a..b", ".a", "a.", "a b", "a*", "a>", "ü"} {
		if err := st.PutTimer(ctx, engine.StoredTimer{Key: bad}); !errors.Is(err, jetstream.ErrInvalidName) {
			t.Errorf("timer key %q: %v", bad, err)
		}
		if err := st.PutHeartbeat(ctx, bad, nil); !errors.Is(err, jetstream.ErrInvalidName) {
			t.Errorf("heartbeat key %q: %v", bad, err)
		}
	}
	for _, bad := range []string{"", "bad queue", "a.b", "*"} {
		if _, err := st.ServeQueries(bad, nil); !errors.Is(err, jetstream.ErrInvalidName) {
			t.Errorf("serving queries of %q: %v", bad, err)
		}
	}
	if _, err := st.CreateRun(ctx, "", engine.RunRecord{}); !errors.Is(err, jetstream.ErrInvalidName) {
		t.Errorf("empty workflow id: %v", err)
	}
	// A conflict names the run, for the operator reading the log.
	seq := appendN(t, st, "named-run", 2, 0)
	if _, err := st.AppendHistory(ctx, header("named-run", 5, 5), nil, seq[0], ""); !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "named-run") {
		t.Errorf("stale append: %v, want ErrConflict naming the run", err)
	}
}
