package engine

import (
	"sync"
	"testing"
	"time"
)

// A pool never makes a task wait for another: one blocked until a later
// one runs still finishes; idle goroutines are reused, and end with close
// (TestMain's leak check fails the package otherwise).
func TestGoPoolRunsEveryTaskAtOnce(t *testing.T) {
	p := newGoPool()
	defer p.close()
	var wg sync.WaitGroup
	for range 50 {
		release := make(chan struct{})
		wg.Add(2)
		p.Go(func() { defer wg.Done(); <-release })
		p.Go(func() { defer wg.Done(); close(release) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a task waited for a goroutine of the pool")
	}
	// Idle now: the next task runs on one of them.
	ran := make(chan struct{})
	p.Go(func() { close(ran) })
	<-ran
}
