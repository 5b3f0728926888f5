package scorchsnap

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	zapv17 "github.com/blevesearch/zapx/v17"
)

// Pacing scorch's merges. Each shard's scorch merges segments in the
// background, in two goroutines of its own: the persister merges the
// segments written since its last pass into one before writing it, the
// merger merges files. Under a steady trickle of runs (one run at a time:
// the deployed benchmark's latency phase) those merges were the bursts
// behind the slow end-to-end runs: of the runs slower than 7 ms, 40-60 %
// overlapped a persister pass and 20-45 % a file merge, of the others 2-4 %
// each; two shards merging at once took both cores of the machine from the
// NATS server and the worker for 10-100 ms. So while the indexer sees
// history arrive sparsely (SetPaced; the Indexer decides) merges take turns
// (one at a time, whichever shard) and pause for mergePause after every
// mergeSlice of work, leaving the cores to the latency-critical work
// between slices: merges are no one's latency, and one that takes three
// times as long still ends long before the next is due. After that the
// slow runs overlapped merges no more often than the others. Not paced
// (full load, a rebuild) merges run as bleve runs them, flat out and side
// by side: the merge plan must keep up, or segments pile up and make every
// write and search dearer.
//
// Segment builds (a batch's new segment) are neither paced nor made to
// take turns with merges: they are the indexer's writes, on the lag's
// path, and a file merge of large segments can take seconds.

var (
	// mergeTurn is held by the merge in progress.
	mergeTurn = make(chan struct{}, 1)
	paced     atomic.Bool
	// mergePauses counts the pauses paced merges took, mergesInFlight the
	// merges under way and mostInFlight the most seen at once (tests).
	mergePauses, mergesInFlight, mostInFlight atomic.Int64
)

// mergeSlice and mergePause: a paced merge works for mergeSlice, then
// sleeps for mergePause (variables for the tests).
var (
	mergeSlice = time.Millisecond
	mergePause = 2 * time.Millisecond
)

// SetPaced tells whether merges should take turns and pace themselves:
// true while history arrives sparsely, false under load.
func SetPaced(on bool) { paced.Store(on) }

var paceOnce sync.Once

// PaceMerges makes the merges of every scorch index of the process that
// uses zap v17 (every index this package opens: bleve's default segment
// type) take turns and pace themselves (SetPaced). It replaces zap v17 in
// scorch's registry of segment types with a wrapper that differs only in
// its merges, so indexes written before or after it are the same. Call it
// before opening an index.
func PaceMerges() {
	paceOnce.Do(func() { scorch.RegisterSegmentPlugin(&pacedZap{}, true) })
}

// pacedZap is zap v17 whose merges take turns and pace themselves.
type pacedZap struct{ zapv17.ZapPlugin }

// Merge is zap's Merge with turns and pacing (scorch calls MergeUsing;
// bleve's offline builder calls Merge).
func (p *pacedZap) Merge(segments []segment.Segment, drops []*roaring.Bitmap, path string,
	closeCh chan struct{}, s segment.StatsReporter) ([][]uint64, uint64, error) {
	return p.MergeUsing(segments, drops, path, closeCh, s, nil)
}

// MergeUsing waits for its turn (giving up with segment.ErrClosed, as zap
// does, once closeCh closes), then merges, pacing itself through the
// stats reporter zap calls as it writes the merged segment.
func (p *pacedZap) MergeUsing(segments []segment.Segment, drops []*roaring.Bitmap, path string,
	closeCh chan struct{}, s segment.StatsReporter, config map[string]any) ([][]uint64, uint64, error) {
	held, err := takeTurn(closeCh)
	if err != nil {
		return nil, 0, err
	}
	if held {
		defer func() { <-mergeTurn }()
	}
	n := mergesInFlight.Add(1)
	defer mergesInFlight.Add(-1)
	for m := mostInFlight.Load(); n > m && !mostInFlight.CompareAndSwap(m, n); m = mostInFlight.Load() {
	}
	pr := &pacer{next: s, closeCh: closeCh, sliceStart: time.Now()}
	return p.ZapPlugin.MergeUsing(segments, drops, path, closeCh, pr, config)
}

// takeTurn waits for the merge turn while merges are paced; unpaced, a
// merge goes ahead at once (held false), as it would without this package.
func takeTurn(closeCh chan struct{}) (held bool, err error) {
	if !paced.Load() {
		return false, nil
	}
	t := time.NewTicker(turnPoll)
	defer t.Stop()
	for {
		select {
		case mergeTurn <- struct{}{}:
			return true, nil
		case <-closeCh:
			return false, segment.ErrClosed
		case <-t.C:
			if !paced.Load() {
				return false, nil
			}
		}
	}
}

// turnPoll is how often a merge waiting for its turn checks whether merges
// are still paced.
const turnPoll = 10 * time.Millisecond

// pacer is the stats reporter a merge reports each write of its new
// segment to (many a millisecond): it passes them on, and while merges
// are paced it sleeps for mergePause once mergeSlice has passed since the
// merge started or last slept.
type pacer struct {
	next       segment.StatsReporter
	closeCh    chan struct{}
	sliceStart time.Time
	writes     int
}

// checkEvery: the clock is read every checkEvery writes, not on each.
const checkEvery = 16

func (p *pacer) ReportBytesWritten(n uint64) {
	if p.next != nil {
		p.next.ReportBytesWritten(n)
	}
	p.writes++
	if p.writes%checkEvery != 0 || !paced.Load() || time.Since(p.sliceStart) < mergeSlice {
		return
	}
	t := time.NewTimer(mergePause)
	select {
	case <-t.C:
	case <-p.closeCh: // zap notices it next and stops
		t.Stop()
	}
	mergePauses.Add(1)
	p.sliceStart = time.Now()
}
