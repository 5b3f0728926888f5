package visibility

import (
	"testing"
	"time"
)

// A window gathers briefly under light load, for a multiple of its write
// under heavy load up to Gather, and no longer than leaves the lag target
// once windows take long to be prepared and written.
func TestGatherBounds(t *testing.T) {
	x := &Indexer{opts: IndexerOptions{Gather: 200 * time.Millisecond}}
	ms := time.Millisecond
	for _, c := range []struct {
		name        string
		write, took time.Duration
		want        time.Duration
	}{
		{"idle", 0, 0, minGather},
		{"light load", ms, 2 * ms, minGather},
		{"busy", 10 * ms, 20 * ms, 10 * gatherPerWrite * ms},
		{"heavy load", 40 * ms, 50 * ms, 200 * ms},
		{"slow windows", 30 * ms, 100 * ms, lagTarget - 200*ms},
		{"starved", 200 * ms, 400 * ms, minGather},
	} {
		x.lastWrite.Store(int64(c.write))
		x.lastTook.Store(int64(c.took))
		if got := x.gather(); got != c.want {
			t.Errorf("%s (write %v, took %v): gather %v, want %v", c.name, c.write, c.took, got, c.want)
		}
	}
}
