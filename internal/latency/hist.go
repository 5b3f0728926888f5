// Package latency is the latency histogram workers and the engine share:
// a worker's schedule-to-start counts (in its announcement) add into the
// engine's rolling figures (internal/pulse).
package latency

import (
	"math"
	"time"
)

// Latency histograms share one bucket layout, so a worker's histogram
// (sent in its announcement) adds into the engine's: bucket i counts
// durations in (Bound(i-1), Bound(i)], from 100µs growing by a quarter per
// bucket to ~14 minutes; the last bucket holds everything longer. A
// quantile, interpolated inside its bucket, is off by less than one bucket
// (25%), and the buckets map onto a Prometheus histogram's "le" bounds.
const (
	NumBuckets  = 72
	firstBound  = 100 * time.Microsecond
	boundFactor = 1.25
)

var bounds = func() [NumBuckets]time.Duration {
	var b [NumBuckets]time.Duration
	f := float64(firstBound)
	for i := range b {
		b[i] = time.Duration(f)
		f *= boundFactor
	}
	b[NumBuckets-1] = math.MaxInt64
	return b
}()

// Bound is the upper bound of bucket i (math.MaxInt64 for the last).
func Bound(i int) time.Duration { return bounds[i] }

// BucketOf is the bucket a duration falls in.
func BucketOf(d time.Duration) int {
	if d <= firstBound {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(firstBound)) / math.Log(boundFactor)))
	// Floating point may land one off near a bound.
	for i > 0 && d <= bounds[min(i-1, NumBuckets-1)] {
		i--
	}
	for i < NumBuckets-1 && d > bounds[i] {
		i++
	}
	return min(i, NumBuckets-1)
}

// Hist counts durations per bucket.
type Hist [NumBuckets]uint64

// Observe counts d.
func (h *Hist) Observe(d time.Duration) { h[BucketOf(d)]++ }

// Add adds o's counts.
func (h *Hist) Add(o *Hist) {
	for i, n := range o {
		h[i] += n
	}
}

// AddSparse adds counts encoded by Sparse (unknown buckets are ignored:
// a newer worker may use more).
func (h *Hist) AddSparse(s []uint64) {
	for i := 0; i+1 < len(s); i += 2 {
		if b := s[i]; b < NumBuckets {
			h[b] += s[i+1]
		}
	}
}

// Sparse encodes the non-empty buckets as bucket, count pairs (what a
// worker's announcement carries: most buckets are empty).
func (h *Hist) Sparse() []uint64 {
	var s []uint64
	for i, n := range h {
		if n > 0 {
			s = append(s, uint64(i), n)
		}
	}
	return s
}

// Count is the number of durations counted.
func (h *Hist) Count() uint64 {
	var t uint64
	for _, n := range h {
		t += n
	}
	return t
}

// Quantile estimates the q-quantile (0 < q <= 1), interpolating inside
// its bucket; 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, n := range h {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			lo := time.Duration(0)
			if i > 0 {
				lo = bounds[i-1]
			}
			hi := bounds[i]
			if i == NumBuckets-1 {
				return lo // open-ended: say at least
			}
			frac := (rank - seen) / float64(n)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		seen += float64(n)
	}
	return bounds[NumBuckets-2]
}
