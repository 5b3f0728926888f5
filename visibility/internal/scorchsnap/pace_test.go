package scorchsnap

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
	"github.com/blevesearch/bleve/v2/mapping"
)

// pacedIndex is a scorch index (closed when the test ends) holding docs
// documents written in batches of batch: one segment each, persisted
// before it returns, so that a forced merge has files to merge.
func pacedIndex(t *testing.T, name string, docs, batch int) bleve.Index {
	t.Helper()
	m := mapping.NewIndexMapping()
	idx, err := bleve.NewUsing(filepath.Join(t.TempDir(), name), m, "scorch", "scorch", map[string]any{
		"scorchPersisterOptions": map[string]any{"PersisterNapTimeMSec": 0},
		// No merges but the forced ones.
		"scorchMergePlanOptions": map[string]any{"MaxSegmentsPerTier": 1000, "SegmentsPerMergeTask": 10, "FloorSegmentSize": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	for i := 0; i < docs; i += batch {
		b := idx.NewBatch()
		for j := i; j < min(i+batch, docs); j++ {
			if err := b.Index(fmt.Sprintf("%s-%06d", name, j), map[string]any{
				"k": fmt.Sprintf("key-%d", j%97), "text": fmt.Sprintf("run %d of %s went fine at step %d", j, name, j%13), "n": j,
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := idx.Batch(b); err != nil {
			t.Fatal(err)
		}
	}
	return idx
}

// forceMergeAll merges every segment of each index into one, all indexes
// at once.
func forceMergeAll(t *testing.T, idxs ...bleve.Index) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(idxs))
	for i, idx := range idxs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			adv, err := idx.Advanced()
			if err == nil {
				err = adv.(*scorch.Scorch).ForceMerge(context.Background(), &mergeplan.SingleSegmentMergePlanOptions)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func checkDocs(t *testing.T, idx bleve.Index, want uint64) {
	t.Helper()
	n, err := idx.DocCount()
	if err != nil || n != want {
		t.Fatalf("%d documents (%v), want %d", n, err, want)
	}
	res, err := idx.Search(bleve.NewSearchRequest(bleve.NewMatchQuery("fine")))
	if err != nil || res.Total != want {
		t.Fatalf("%d documents match a term every one has (%v), want %d", res.Total, err, want)
	}
}

// While merges are paced, the merges of all indexes take turns (never two
// at once) and pause between slices of work; the merged indexes hold
// every document. Not paced, merges do not pause.
func TestPacedMergesTakeTurns(t *testing.T) {
	PaceMerges()
	defer SetPaced(false)
	// Short slices and pauses: even these small merges pause, a few times.
	slice, pause := mergeSlice, mergePause
	mergeSlice, mergePause = time.Millisecond, 100*time.Microsecond
	defer func() { mergeSlice, mergePause = slice, pause }()
	const docs = 600
	a, b := pacedIndex(t, "a", docs, 100), pacedIndex(t, "b", docs, 100)

	SetPaced(true)
	mostInFlight.Store(0)
	pauses := mergePauses.Load()
	t0 := time.Now()
	forceMergeAll(t, a, b)
	took := time.Since(t0)
	if n := mostInFlight.Load(); n != 1 {
		t.Errorf("paced: %d merges at once, want 1", n)
	}
	if mergePauses.Load() == pauses {
		t.Errorf("paced: merges took no pause in %v", took)
	}
	checkDocs(t, a, docs)
	checkDocs(t, b, docs)

	c, d := pacedIndex(t, "c", docs, 100), pacedIndex(t, "d", docs, 100)
	SetPaced(false)
	pauses = mergePauses.Load()
	forceMergeAll(t, c, d)
	if n := mergePauses.Load() - pauses; n != 0 {
		t.Errorf("not paced: merges took %d pauses", n)
	}
	checkDocs(t, c, docs)
	checkDocs(t, d, docs)
}

// A merge waiting for its turn gives up when its index closes, and one
// waiting when merges stop being paced goes ahead.
func TestTakeTurnReleases(t *testing.T) {
	defer SetPaced(false)
	SetPaced(true)
	mergeTurn <- struct{}{} // another merge's turn
	defer func() { <-mergeTurn }()

	closeCh := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := takeTurn(closeCh)
		done <- err
	}()
	close(closeCh)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("closed while waiting: took the turn, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting for the turn 5 s after its index closed")
	}

	held := make(chan bool, 1)
	go func() {
		h, _ := takeTurn(nil)
		held <- h
	}()
	time.Sleep(2 * turnPoll)
	SetPaced(false)
	select {
	case h := <-held:
		if h {
			t.Fatal("took a turn that another merge holds")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting for the turn 5 s after merges stopped being paced")
	}
}
