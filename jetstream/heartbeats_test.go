package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func TestHeartbeats(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	if err := st.PutHeartbeat(ctx, "run1.act-3.1", []byte("50%")); err != nil {
		t.Fatal(err)
	}
	if err := st.PutHeartbeat(ctx, "gone.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteHeartbeat(ctx, "gone.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetHeartbeat(ctx, "gone.1"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := st.GetHeartbeat(ctx, "never"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if err := st.PutHeartbeat(ctx, "run1.act-3.1", []byte("60%")); err != nil {
		t.Fatal(err)
	}
	if v, err := st.GetHeartbeat(ctx, "run1.act-3.1"); err != nil || string(v) != "60%" {
		t.Fatalf("get = %q, %v", v, err)
	}

	var mu sync.Mutex
	var events []string
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- st.WatchHeartbeats(wctx, func(key string, data []byte) {
			mu.Lock()
			defer mu.Unlock()
			if data == nil {
				events = append(events, key+"=<deleted>")
			} else {
				events = append(events, fmt.Sprintf("%s=%s", key, data))
			}
		})
	}()
	waitEvents := func(want ...string) {
		t.Helper()
		jstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(events) != fmt.Sprint(want) {
				return fmt.Errorf("events %v, want %v", events, want)
			}
			return nil
		})
	}
	// Current values only: the deleted key is not reported as a value.
	waitEvents("run1.act-3.1=60%")
	if err := st.PutHeartbeat(ctx, "run1.act-3.1", []byte("70%")); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteHeartbeat(ctx, "run1.act-3.1"); err != nil {
		t.Fatal(err)
	}
	waitEvents("run1.act-3.1=60%", "run1.act-3.1=70%", "run1.act-3.1=<deleted>")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchHeartbeats returned %v", err)
	}

	for _, bad := range []string{"", "a b", "a..b", "a*", ">"} {
		if err := st.PutHeartbeat(ctx, bad, nil); !errors.Is(err, jetstream.ErrInvalidName) {
			t.Errorf("heartbeat key %q: %v", bad, err)
		}
	}
}
