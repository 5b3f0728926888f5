package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// failingStore makes one of the calls the services block in fail, and
// counts the blocking calls still running.
type failingStore struct {
	engine.Store
	fail    string // "ListRuns" or "WatchHeartbeats"
	running atomic.Int32
}

var errInjected = errors.New("injected store failure")

func (s *failingStore) track(f func() error) error {
	s.running.Add(1)
	defer s.running.Add(-1)
	return f()
}

func (s *failingStore) ListRuns(ctx context.Context, fn func(string, engine.RunRecord) error) error {
	if s.fail == "ListRuns" {
		return errInjected
	}
	return s.Store.ListRuns(ctx, fn)
}

func (s *failingStore) WatchHeartbeats(ctx context.Context, fn func(string, []byte)) error {
	if s.fail == "WatchHeartbeats" {
		time.Sleep(200 * time.Millisecond) // the siblings are up by now
		return errInjected
	}
	return s.track(func() error { return s.Store.WatchHeartbeats(ctx, fn) })
}

func (s *failingStore) WatchTimers(ctx context.Context, fn func(engine.StoredTimer)) error {
	return s.track(func() error { return s.Store.WatchTimers(ctx, fn) })
}

func (s *failingStore) ConsumeHistory(ctx context.Context, durable string, fn func([]engine.StoredBatch) error) error {
	return s.track(func() error { return s.Store.ConsumeHistory(ctx, durable, fn) })
}

// A service that fails stops its siblings: RunServices returns the
// failure only once the dispatcher and the timer watches have returned,
// and leaves no goroutine behind. The failures are in the start sweeper
// (a sibling of the timer service) and in the heartbeat watch (inside the
// timer service, a sibling of the timer watch).
func TestRunServicesFailureStopsSiblings(t *testing.T) {
	for _, fail := range []string{"ListRuns", "WatchHeartbeats"} {
		t.Run(fail, func(t *testing.T) {
			// Registered first, so checked last: after the store, its
			// connection and the server are gone.
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			store, _ := jstest.Start(t)
			fs := &failingStore{Store: store, fail: fail}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- engine.RunServices(ctx, fs, quietLogger()) }()
			select {
			case err := <-done:
				if !errors.Is(err, errInjected) {
					t.Fatalf("RunServices returned %v, want the injected failure", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("RunServices still running 10 s after a service failed")
			}
			if n := fs.running.Load(); n != 0 {
				t.Fatalf("%d store calls of the other services still running after RunServices returned", n)
			}
		})
	}
}
