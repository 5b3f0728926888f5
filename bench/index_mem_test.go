package main

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility"
)

// TestIndexBuildInMemory builds an index of $FOREMAN_IXMEM synthetic runs
// (the index group's histories) from memory, without NATS: a quick A/B
// harness for changes to the index (a few hundred thousand runs take a
// minute or two where the full group takes ten). It reports runs/s; with
// -cpuprofile, where the build spends its time.
//
//	FOREMAN_IXMEM=200000 go test ./bench -run IndexBuildInMemory -v -timeout 1h
func TestIndexBuildInMemory(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("FOREMAN_IXMEM"))
	if runs <= 0 {
		t.Skip("set FOREMAN_IXMEM to a run count")
	}
	src := synthMemHistory(runs)
	dir := t.TempDir()
	ix, err := visibility.OpenIndex(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var written, windows int // documents written: a run split over windows is written once per window
	onApplied := func(w visibility.AppliedWindow) { written += w.Docs; windows++ }
	start, cpu0 := time.Now(), processCPU(os.Getpid())
	if err := visibility.NewIndexer(ix, src, visibility.IndexerOptions{OnApplied: onApplied}).CatchUp(context.Background(), uint64(len(src.batches))); err != nil {
		t.Fatal(err)
	}
	took, cpu := time.Since(start), processCPU(os.Getpid())-cpu0
	docs, _ := ix.DocCount()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if docs != uint64(runs) {
		t.Fatalf("%d documents, want %d", docs, runs)
	}
	size, err := dirBytes(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d runs (%d batches) in %v: %.0f runs/s, %.1f CPU s (%.0f runs per CPU s); %d windows wrote %.2f documents per run; %d bytes per run on disk",
		runs, len(src.batches), took.Round(time.Millisecond), float64(runs)/took.Seconds(), cpu.Seconds(),
		float64(runs)/cpu.Seconds(), windows, float64(written)/float64(runs), size/int64(runs))
}

// memHistory is synthetic history held in memory, in stream order.
type memHistory struct{ batches []engine.StoredBatch }

func (h *memHistory) ConsumeHistoryFrom(ctx context.Context, afterSeq uint64, max int, fn func([]engine.StoredBatch) error) error {
	for i := int(afterSeq); i < len(h.batches); i += max {
		if err := fn(h.batches[i:min(i+max, len(h.batches))]); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// LastHistorySeq tells the indexer how far the history goes, as the
// jetstream Store does.
func (h *memHistory) LastHistorySeq(context.Context) (uint64, error) {
	return uint64(len(h.batches)), nil
}

// ReadHistory scans the whole history: the indexer reads a run back only
// when its cache let go of a run it has not finished, which a build of
// interleaved runs rarely does.
func (h *memHistory) ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error) {
	var out []engine.StoredBatch
	for _, b := range h.batches[min(int(afterSeq), len(h.batches)):] {
		if b.Header.RunID == runID {
			out = append(out, b)
		}
	}
	return out, nil
}

// synthMemHistory interleaves runs' batches as writeHistories does (~500
// runs in flight), started as synthStart says.
func synthMemHistory(runs int) *memHistory {
	const inFlight = 512
	r := rand.New(rand.NewPCG(1, 42))
	now := time.Now().UTC()
	type live struct {
		run *synthRun
		i   int
	}
	h := &memHistory{}
	var flight []*live
	for n := 1; n <= runs || len(flight) > 0; {
		for ; len(flight) < inFlight && n <= runs; n++ {
			flight = append(flight, &live{run: genRun(r, n, synthStart(now, n, runs))})
		}
		keep := flight[:0]
		for _, l := range flight {
			hd, data, err := l.run.encode(l.i)
			if err != nil {
				panic(err)
			}
			at := l.run.batches[l.i].events[0].Time
			h.batches = append(h.batches, engine.StoredBatch{Seq: uint64(len(h.batches) + 1), Header: hd, Data: data, Time: at})
			if l.i++; l.i < len(l.run.batches) {
				keep = append(keep, l)
			}
		}
		flight = keep
	}
	return h
}
