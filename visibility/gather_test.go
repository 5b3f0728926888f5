package visibility

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// A window gathers for sparseGather under light load, for a multiple of
// its write under heavy load up to Gather, and no longer than leaves the
// lag target once windows take long to be prepared and written. Merges
// pace themselves only while windows gather for sparseGather.
func TestGatherBounds(t *testing.T) {
	x := &Indexer{opts: IndexerOptions{Gather: 200 * time.Millisecond}}
	ms := time.Millisecond
	for _, c := range []struct {
		name        string
		write, took time.Duration
		want        time.Duration
		sparse      bool
	}{
		{"idle", 0, 0, sparseGather, true},
		{"light load", ms, 2 * ms, sparseGather, true},
		{"sparse, slower writes", sparseGather / gatherPerWrite, 20 * ms, sparseGather, true},
		{"busy", 20 * ms, 30 * ms, 20 * gatherPerWrite * ms, false},
		{"heavy load", 40 * ms, 50 * ms, 200 * ms, false},
		{"slow windows", 30 * ms, 100 * ms, lagTarget - 200*ms, false},
		{"starved", 200 * ms, 400 * ms, minGather, false},
	} {
		x.lastWrite.Store(int64(c.write))
		x.lastTook.Store(int64(c.took))
		if got := x.gather(); got != c.want {
			t.Errorf("%s (write %v, took %v): gather %v, want %v", c.name, c.write, c.took, got, c.want)
		}
		if got := x.sparse(); got != c.sparse {
			t.Errorf("%s (write %v): sparse %v, want %v", c.name, c.write, got, c.sparse)
		}
	}
	// A small Gather (tests) still bounds the window.
	x.opts.Gather = 10 * ms
	x.lastWrite.Store(0)
	x.lastTook.Store(0)
	if got := x.gather(); got != minGather {
		t.Errorf("Gather 10ms, idle: gather %v, want %v", got, minGather)
	}
}

// trickle is a history that arrives in real time, one batch every every,
// each stored when it arrives.
type trickle struct {
	*winSource
	every time.Duration
}

func (s trickle) ConsumeHistoryFrom(ctx context.Context, afterSeq uint64, max int, fn func([]engine.StoredBatch) error) error {
	next := time.Now()
	for i := int(afterSeq); i < len(s.batches); i++ {
		next = next.Add(s.every)
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
			return ctx.Err()
		}
		b := s.batches[i]
		b.Time = time.Now()
		if err := fn([]engine.StoredBatch{b}); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// Runs arriving one by one, a few hundred a second, are written in a few
// windows a second (each a segment per shard for bleve to build, persist
// and merge), not in one per write's worth of time, and each is
// searchable well within the lag the search API promises.
func TestSparseHistoryFewWindows(t *testing.T) {
	const runs, every = 300, 4 * time.Millisecond // 1.2 s of history
	src := trickle{winSource: runsOneSecondApart(t, runs), every: every}
	ix := emptyIndex(t)
	var mu sync.Mutex
	var windows int
	var maxLag time.Duration
	x := NewIndexer(ix, src, IndexerOptions{OnApplied: func(w AppliedWindow) {
		mu.Lock()
		defer mu.Unlock()
		windows++
		maxLag = max(maxLag, w.At.Sub(w.Stored[0]))
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := ix.WaitForSeq(wctx, runs); err != nil {
		t.Fatalf("waiting for the %d runs to be indexed: %v", runs, err)
	}
	if docs, _ := ix.DocCount(); docs != runs {
		t.Fatalf("%d documents, want %d", docs, runs)
	}
	mu.Lock()
	defer mu.Unlock()
	arrival := runs * every
	if most := int(arrival/sparseGather) + 3; windows > most {
		t.Errorf("%d windows for %v of sparse history: want at most %d (one per %v)", windows, arrival, most, sparseGather)
	}
	if maxLag > time.Second {
		t.Errorf("a window written %v after its oldest batch was stored: want well under a second", maxLag)
	}
	t.Logf("%d windows, lag at most %v", windows, maxLag)
}
