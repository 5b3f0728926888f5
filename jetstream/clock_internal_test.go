package jetstream

import (
	"testing"
	"time"
)

// fakeElapsed is a monotonic clock the test moves.
type fakeElapsed struct{ d time.Duration }

func (f *fakeElapsed) read() time.Duration { return f.d }

// The store's clock is the server's time, counted on this process's
// monotonic clock from the latest sample: a host whose wall clock is an
// hour off, or jumps, changes nothing; old samples (a task stored long
// ago) never pull it back; it never runs backwards.
func TestServerClock(t *testing.T) {
	mono := &fakeElapsed{d: time.Minute}
	c := &serverClock{elapsed: mono.read}
	server := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC) // the host's wall clock says something else entirely
	c.observe(server)
	mono.d += 1500 * time.Millisecond
	if got, want := c.Now(), server.Add(1500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("1.5 s after the sample: %s, want %s", got, want)
	}
	// A task stored ten minutes ago is read now: its stamp is old news.
	c.observe(server.Add(-10 * time.Minute))
	if got, want := c.Now(), server.Add(1500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("an old stamp moved the clock: %s, want %s", got, want)
	}
	// A stamp ahead of the estimate (the first sample had come late)
	// moves it forward.
	c.observe(server.Add(1600 * time.Millisecond))
	if got, want := c.Now(), server.Add(1600*time.Millisecond); !got.Equal(want) {
		t.Fatalf("a newer stamp: %s, want %s", got, want)
	}
	prev := c.Now()
	for range 100 {
		mono.d += time.Millisecond
		c.observe(server) // stale
		if now := c.Now(); now.Before(prev) {
			t.Fatalf("the clock ran backwards: %s after %s", now, prev)
		}
		prev = c.Now()
	}
}
