package examples

import (
	"context"
	"math/rand/v2"
	"time"
)

// pause stands in for real work in the examples' activities: it takes about
// d (between d/2 and 3d/2, so runs do not move in lockstep) and stops early
// when the attempt is cancelled, as real activity code should.
func pause(ctx context.Context, d time.Duration) error {
	if d > 0 {
		d = d/2 + rand.N(d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
