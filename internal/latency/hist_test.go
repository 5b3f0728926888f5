package latency

import (
	"testing"
	"time"
)

func TestBucketOfMatchesBounds(t *testing.T) {
	for i := 0; i < NumBuckets-1; i++ {
		if got := BucketOf(Bound(i)); got != i {
			t.Fatalf("BucketOf(Bound(%d)=%s) = %d", i, Bound(i), got)
		}
		if got := BucketOf(Bound(i) + 1); got != i+1 {
			t.Fatalf("BucketOf(Bound(%d)+1) = %d", i, got)
		}
	}
	if BucketOf(time.Hour) != NumBuckets-1 || BucketOf(-time.Second) != 0 {
		t.Fatal("out of range durations")
	}
}

func TestQuantileWithinABucket(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Observe(time.Duration(i) * time.Millisecond) // uniform 1ms..1s
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}} {
		got := h.Quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d > 0.25 || d < -0.25 {
			t.Errorf("q%.2f = %s, want ~%s", c.q, got, c.want)
		}
	}
	var back Hist
	back.AddSparse(h.Sparse())
	if back != h {
		t.Fatal("Sparse/AddSparse does not round-trip")
	}
}
