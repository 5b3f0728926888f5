package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

var timerTests = []test{
	{"WatchSeesStoredThenNew", testWatchTimers},
	{"PutReplacesByKey", testTimerReplace},
	{"Delete", testDeleteTimer},
}

var heartbeatTests = []test{
	{"PutGetDelete", testHeartbeatPutGet},
	{"Watch", testWatchHeartbeats},
}

// timerWatch collects what WatchTimers reports, by key.
type timerWatch struct {
	mu   sync.Mutex
	seen map[string]engine.StoredTimer
	n    int
	stop func() error
}

func watchTimers(t *testing.T, s engine.Store) *timerWatch {
	t.Helper()
	w := &timerWatch{seen: map[string]engine.StoredTimer{}}
	w.stop = background(t, func(ctx context.Context) error {
		return s.WatchTimers(ctx, func(tm engine.StoredTimer) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.seen[tm.Key] = tm
			w.n++
		})
	})
	return w
}

// waitFor waits until the watch has seen every key.
func (w *timerWatch) waitFor(t *testing.T, keys ...string) {
	t.Helper()
	eventually(t, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, k := range keys {
			if _, ok := w.seen[k]; !ok {
				return fmt.Errorf("timer %s not watched yet (seen %d)", k, len(w.seen))
			}
		}
		return nil
	})
}

func (w *timerWatch) get(key string) (engine.StoredTimer, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[key], w.n
}

func putTimer(t *testing.T, s engine.Store, key string, at time.Time, data string) {
	t.Helper()
	if err := s.PutTimer(testCtx(t), engine.StoredTimer{Key: key, FireAt: at, Data: []byte(data)}); err != nil {
		t.Fatalf("put timer %s: %v", key, err)
	}
}

// The watch reports every stored timer (due or not, as written, with the
// sequence to delete it by), then each one put later; it returns
// ctx.Err() when its context ends.
func testWatchTimers(t *testing.T, s engine.Store) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	putTimer(t, s, "run-1.sleep.1", at, "a")
	putTimer(t, s, "run-1.retry-2", time.Now().Add(-time.Hour), "b") // long due
	w := watchTimers(t, s)
	w.waitFor(t, "run-1.sleep.1", "run-1.retry-2")
	tm, _ := w.get("run-1.sleep.1")
	if !tm.FireAt.Equal(at) || string(tm.Data) != "a" || tm.Seq == 0 {
		t.Fatalf("timer read back as %+v, want FireAt %v, data \"a\", a sequence", tm, at)
	}
	putTimer(t, s, "run-2.timeout", at.Add(time.Hour), "c")
	w.waitFor(t, "run-2.timeout")
	if err := w.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchTimers returned %v when its context ended, want context.Canceled", err)
	}
}

// The store keeps one timer per key: a later put replaces the earlier
// one, which a new watch no longer reports.
func testTimerReplace(t *testing.T, s engine.Store) {
	at := time.Now().Add(time.Hour).UTC()
	putTimer(t, s, "run-1.sleep.1", at, "first")
	putTimer(t, s, "run-1.sleep.1", at.Add(time.Minute), "second")
	putTimer(t, s, "run-1.other", at, "other")
	w := watchTimers(t, s)
	w.waitFor(t, "run-1.sleep.1", "run-1.other")
	time.Sleep(quiet)
	tm, n := w.get("run-1.sleep.1")
	if string(tm.Data) != "second" || !tm.FireAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("replaced timer read back as %+v, want the second put", tm)
	}
	if n != 2 {
		t.Fatalf("a new watch reported %d timers, want 2 (the replaced one is gone)", n)
	}
}

// DeleteTimer removes the timer stored at a sequence; deleting it again,
// or a sequence that was replaced or never used, is not an error.
func testDeleteTimer(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	at := time.Now().Add(time.Hour)
	putTimer(t, s, "run-1.a", at, "a")
	putTimer(t, s, "run-1.b", at, "b")
	putTimer(t, s, "run-1.c", at, "c1")
	w := watchTimers(t, s)
	w.waitFor(t, "run-1.a", "run-1.b", "run-1.c")
	a, _ := w.get("run-1.a")
	oldC, _ := w.get("run-1.c")
	_ = w.stop()
	putTimer(t, s, "run-1.c", at, "c2") // replaces the timer at oldC.Seq
	for _, seq := range []uint64{a.Seq, a.Seq, oldC.Seq, 1 << 40} {
		if err := s.DeleteTimer(ctx, seq); err != nil {
			t.Fatalf("DeleteTimer(%d): %v", seq, err)
		}
	}
	w2 := watchTimers(t, s)
	w2.waitFor(t, "run-1.b", "run-1.c")
	time.Sleep(quiet)
	w2.mu.Lock()
	defer w2.mu.Unlock()
	keys := slices.Sorted(maps.Keys(w2.seen))
	if !slices.Equal(keys, []string{"run-1.b", "run-1.c"}) || string(w2.seen["run-1.c"].Data) != "c2" {
		t.Fatalf("after the deletes a watch reports %v (c = %q), want run-1.b and the second run-1.c", keys, w2.seen["run-1.c"].Data)
	}
}

// GetHeartbeat returns the newest put; a deleted or unknown key is
// ErrNotFound.
func testHeartbeatPutGet(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	key := "run-1.act-3.1"
	for _, v := range []string{"50%", "60%"} {
		if err := s.PutHeartbeat(ctx, key, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := s.GetHeartbeat(ctx, key); err != nil || string(v) != "60%" {
		t.Fatalf("GetHeartbeat = %q, %v; want the newest put, \"60%%\"", v, err)
	}
	if err := s.DeleteHeartbeat(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetHeartbeat(ctx, key); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("GetHeartbeat of a deleted key: %v, want ErrNotFound", err)
	}
	if _, err := s.GetHeartbeat(ctx, "run-1.never"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("GetHeartbeat of an unknown key: %v, want ErrNotFound", err)
	}
}

// WatchHeartbeats reports every current value (not deleted keys), then
// each put and delete (data nil) as they happen, in order per key.
func testWatchHeartbeats(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	put := func(k, v string) {
		t.Helper()
		if err := s.PutHeartbeat(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	del := func(k string) {
		t.Helper()
		if err := s.DeleteHeartbeat(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	put("run-1.act-1.1", "10%")
	put("run-1.gone.1", "x")
	del("run-1.gone.1")
	var mu sync.Mutex
	var events []string
	stop := background(t, func(ctx context.Context) error {
		return s.WatchHeartbeats(ctx, func(key string, data []byte) {
			mu.Lock()
			defer mu.Unlock()
			if data == nil {
				events = append(events, key+" deleted")
			} else {
				events = append(events, key+"="+string(data))
			}
		})
	})
	want := func(w ...string) {
		t.Helper()
		eventually(t, func() error {
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(events, w) {
				return fmt.Errorf("watched %q, want %q", events, w)
			}
			return nil
		})
	}
	want("run-1.act-1.1=10%")
	put("run-1.act-1.1", "70%")
	del("run-1.act-1.1")
	want("run-1.act-1.1=10%", "run-1.act-1.1=70%", "run-1.act-1.1 deleted")
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchHeartbeats returned %v when its context ended, want context.Canceled", err)
	}
}
