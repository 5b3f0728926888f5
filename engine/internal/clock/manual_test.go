package clock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Set starts the calls due by then (not later ones), skips stopped ones, and
// counts running calls as holds until they return.
func TestManualRunsDueCallsInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewManual(start)
	var mu sync.Mutex
	var ran []string
	var wg sync.WaitGroup
	gate := make(chan struct{})
	call := func(name string) func() {
		wg.Add(1)
		return func() {
			defer wg.Done()
			<-gate
			mu.Lock()
			ran = append(ran, name)
			mu.Unlock()
		}
	}
	m.AfterFunc(2*time.Hour, call("2h"))
	m.AfterFunc(time.Hour, call("1h"))
	stopped := m.AfterFunc(90*time.Minute, func() { t.Error("a stopped call ran") })
	m.AfterFunc(3*time.Hour, func() { t.Error("a call ran before its time") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop must report true once")
	}
	if next, ok := m.Next(); !ok || !next.Equal(start.Add(time.Hour)) {
		t.Fatalf("next %s %v", next, ok)
	}
	m.Set(start.Add(2 * time.Hour))
	if h := m.Holds(); h != 2 {
		t.Fatalf("%d holds while two calls run, want 2", h)
	}
	close(gate)
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for m.Holds() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if m.Holds() != 0 || !m.Now().Equal(start.Add(2*time.Hour)) {
		t.Fatalf("holds %d, now %s", m.Holds(), m.Now())
	}
	if next, ok := m.Next(); !ok || !next.Equal(start.Add(3*time.Hour)) {
		t.Fatalf("next %s %v", next, ok)
	}
	m.Set(start) // never backwards
	if !m.Now().Equal(start.Add(2 * time.Hour)) {
		t.Fatalf("moved back to %s", m.Now())
	}
	if len(ran) != 2 {
		t.Fatalf("ran %v", ran)
	}
}

// WithDeadline on a manual clock ends the context when the clock reaches
// the deadline, with cause DeadlineExceeded.
func TestManualDeadline(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	ctx, cancel := WithDeadline(m, context.Background(), m.Now().Add(time.Minute))
	defer cancel()
	m.Set(m.Now().Add(59 * time.Second))
	if ctx.Err() != nil {
		t.Fatal("ended before the deadline")
	}
	m.Set(m.Now().Add(time.Second))
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
}
