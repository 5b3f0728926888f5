// Package storetest is the conformance suite of engine.Store: what the
// engine relies on from persistence, checked against a real store. Every
// Store implementation runs it; the JetStream store does in its package
// tests.
//
// A backend author calls Run from a test with a function that returns a
// fresh, empty store for each subtest (and cleans it up with t.Cleanup):
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) engine.Store {
//			s, err := mybackend.Open(t.TempDir(), mybackend.Options{AckWait: time.Second})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The subtests follow the interfaces of engine.Store: History (append with
// optimistic concurrency, read back in order, follow, durable consume),
// Runs (create-only ids, compare-and-swap), Tasks (deliver, ack, nak and
// redelivery, in progress, in-flight bound), Timers, Heartbeats and Bus
// (queries, cancel notices); Engine runs workflows end to end on the store
// (an activity, a durable timer that fires when due and not before, and
// one that fell due while the engine's services were stopped). Run one
// with -run, e.g. -run 'Conformance/Tasks/Nak'.
//
// Redelivery tests wait for the store's redelivery deadline
// (Delivery.AckWait): give the store a short one (about a second) for
// the suite; with a longer one (over 2 s for the in-progress test, 5 s
// for redelivery) those tests skip themselves and say so.
// Names used are those the engine generates: run ids of letters, digits
// and '-', queue names of letters, digits, '-' and '_', timer and
// heartbeat keys of those and '.'; workflow ids may hold any character.
package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Run runs the whole suite against stores made by newStore, which is
// called once per subtest and must return an empty store that no other
// subtest uses.
func Run(t *testing.T, newStore func(t *testing.T) engine.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"History", historyTests},
		{"Runs", runTests},
		{"Tasks", taskTests},
		{"Timers", timerTests},
		{"Heartbeats", heartbeatTests},
		{"Bus", busTests},
		{"Engine", engineTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
			}
		})
	}
}

// test is one conformance check.
type test struct {
	name string
	fn   func(t *testing.T, s engine.Store)
}

// waitLong bounds every wait for something that should happen promptly;
// a store that takes longer fails.
const waitLong = 10 * time.Second

// quiet is how long a test watches for something that must not happen.
const quiet = 300 * time.Millisecond

// testCtx returns a context that ends with the test (and after a minute).
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var unique atomic.Int64

// name returns a name unique in this process, of the characters every
// kind of store name allows ([A-Za-z0-9-]).
func name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, unique.Add(1))
}

// background runs fn on a goroutine until the returned stop is called
// (or the test ends); stop cancels fn's context, waits for fn to return
// and returns its error.
func background(t *testing.T, fn func(ctx context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(waitLong):
				err = fmt.Errorf("did not return within %s of its context ending", waitLong)
			}
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// eventually calls fn until it returns nil, failing the test with its last
// error after waitLong.
func eventually(t *testing.T, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", waitLong, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receive waits for one value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLong):
		t.Fatalf("no %s within %s", what, waitLong)
	}
	var zero T
	return zero
}

// nothing fails if ch yields a value within quiet.
func nothing[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	case <-time.After(quiet):
	}
}
