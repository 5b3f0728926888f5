package jetstream_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func TestTimers(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	put := func(key string, fire time.Time, data string) {
		t.Helper()
		if err := st.PutTimer(ctx, engine.StoredTimer{Key: key, FireAt: fire, Data: []byte(data)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	put("run1.sleep.1", at, "a")
	put("run1.retry-2", at.Add(time.Hour), "b")
	put("run1.sleep.1", at.Add(time.Minute), "a2") // replaces the first

	var mu sync.Mutex
	seen := map[string]engine.StoredTimer{}
	count := 0
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- st.WatchTimers(wctx, func(tm engine.StoredTimer) {
			mu.Lock()
			defer mu.Unlock()
			seen[tm.Key] = tm
			count++
		})
	}()
	jstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 2 {
			return errors.New("timers not all seen")
		}
		return nil
	})
	mu.Lock()
	if count != 2 {
		t.Fatalf("watch saw %d timers, want 2 (the replaced one is gone)", count)
	}
	s1 := seen["run1.sleep.1"]
	if !s1.FireAt.Equal(at.Add(time.Minute)) || string(s1.Data) != "a2" || s1.Seq == 0 {
		t.Fatalf("replaced timer read back as %+v", s1)
	}
	mu.Unlock()

	put("run2.timeout", at, "c") // put after the watch started
	jstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen["run2.timeout"]; !ok {
			return errors.New("new timer not seen")
		}
		return nil
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchTimers returned %v", err)
	}

	// Delete, twice, and an unknown sequence: all fine.
	if err := st.DeleteTimer(ctx, s1.Seq); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteTimer(ctx, s1.Seq); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := st.DeleteTimer(ctx, 1); err != nil { // replaced, so already gone
		t.Fatalf("delete replaced: %v", err)
	}
	if err := st.DeleteTimer(ctx, 999999); err != nil {
		t.Fatalf("delete unknown seq: %v", err)
	}
	var after []string
	wctx2, cancel2 := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel2()
	_ = st.WatchTimers(wctx2, func(tm engine.StoredTimer) { after = append(after, tm.Key) })
	if len(after) != 2 || after[0] != "run1.retry-2" || after[1] != "run2.timeout" {
		t.Fatalf("after delete the watch sees %v", after)
	}

	for _, bad := range []string{"", "a..b", ".a", "a.", "a b", "a*", "a>", "ü"} {
		if err := st.PutTimer(ctx, engine.StoredTimer{Key: bad}); !errors.Is(err, jetstream.ErrInvalidName) {
			t.Errorf("timer key %q: %v", bad, err)
		}
	}
}
