package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		p    Policy
		n    int
		want time.Duration
	}{
		{Policy{50 * ms, 2, 5 * time.Second}, 0, 50 * ms},
		{Policy{50 * ms, 2, 5 * time.Second}, 1, 50 * ms},
		{Policy{50 * ms, 2, 5 * time.Second}, 2, 100 * ms},
		{Policy{50 * ms, 2, 5 * time.Second}, 7, 3200 * ms},
		{Policy{50 * ms, 2, 5 * time.Second}, 8, 5 * time.Second},
		{Policy{50 * ms, 2, 5 * time.Second}, 1 << 40, 5 * time.Second},
		{Policy{time.Second, 1.5, time.Minute}, 3, 2250 * ms},
		{Policy{time.Second, 1, 100 * time.Second}, 1000, time.Second},
		{Policy{time.Minute, 2, time.Second}, 1, time.Second}, // Max wins over Initial
	} {
		if got := tc.p.Delay(tc.n); got != tc.want {
			t.Errorf("%+v.Delay(%d) = %s, want %s", tc.p, tc.n, got, tc.want)
		}
	}
}

func TestLoop(t *testing.T) {
	l := Loop{Policy: Policy{Initial: 10 * time.Millisecond, Factor: 3, Max: 50 * time.Millisecond}}
	var waits []time.Duration
	for range 4 {
		start := time.Now()
		if !l.Wait(context.Background()) {
			t.Fatal("Wait returned false without a cancelled context")
		}
		waits = append(waits, time.Since(start))
	}
	for i, want := range []time.Duration{10, 30, 50, 50} {
		if waits[i] < want*time.Millisecond {
			t.Fatalf("wait %d took %s, want at least %dms (waits %v)", i+1, waits[i], want, waits)
		}
	}
	l.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l.Wait(ctx) {
		t.Fatal("Wait returned true with a cancelled context")
	}
	if l.n != 1 {
		t.Fatalf("after Reset and one Wait the loop is at retry %d, want 1", l.n)
	}
}
