package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility"
)

// TestIndexLiveInMemory feeds the indexer, alone in this process, the
// history of $FOREMAN_IXLIVE ThreeActs runs a second as the throughput
// metric produces it (64 runs in flight, five batches each, written in
// real time), for $FOREMAN_IXLIVE_SECS seconds (default 10), and reports
// the process's CPU per run, documents written per run and the index lag
// sampled every 100 ms as the search API reports it. The deployed
// benchmark measures the same indexer inside foreman-engine among
// everything else, where its share is hard to see on a shared machine:
// this is the A/B harness for live indexing (issue #21), as
// TestIndexBuildInMemory is for rebuilds.
//
//	FOREMAN_IXLIVE=1000 go test ./bench -run IndexLiveInMemory -v
func TestIndexLiveInMemory(t *testing.T) {
	rate, _ := strconv.Atoi(os.Getenv("FOREMAN_IXLIVE"))
	if rate <= 0 {
		t.Skip("set FOREMAN_IXLIVE to runs per second")
	}
	secs, _ := strconv.Atoi(os.Getenv("FOREMAN_IXLIVE_SECS"))
	if secs <= 0 {
		secs = 10
	}
	const warmup = 2 * time.Second
	src := newLiveHistory(rate, time.Duration(secs)*time.Second+warmup)
	ix, err := visibility.OpenIndex(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var docs, windows int
	onApplied := func(w visibility.AppliedWindow) {
		mu.Lock()
		docs += w.Docs
		windows++
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- visibility.NewIndexer(ix, src, visibility.IndexerOptions{OnApplied: onApplied}).Run(ctx)
	}()
	go src.play(ctx)

	time.Sleep(warmup)
	mu.Lock()
	docs0, windows0 := docs, windows
	mu.Unlock()
	runs0, cpu0, start := src.closed(), processCPU(os.Getpid()), time.Now()
	var lags []float64
	for tick := time.NewTicker(100 * time.Millisecond); time.Since(start) < time.Duration(secs)*time.Second; <-tick.C {
		lags = append(lags, src.lagMS(ix.AppliedSeq()))
	}
	cpu, runs := processCPU(os.Getpid())-cpu0, src.closed()-runs0
	mu.Lock()
	docs, windows = docs-docs0, windows-windows0
	mu.Unlock()
	cancel()
	<-done
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if runs == 0 {
		t.Fatal("no run closed while measuring")
	}
	slices.Sort(lags)
	t.Logf("%d runs/s for %ds: %.3f ms CPU per run; %.2f documents per run, %.1f windows/s; index lag p50 %.0f ms, p99 %.0f ms, max %.0f ms",
		rate, secs, float64(cpu.Microseconds())/1000/float64(runs), float64(docs)/float64(runs),
		float64(windows)/float64(secs), lags[len(lags)/2], lags[len(lags)*99/100], lags[len(lags)-1])
}

// liveHistory is history written in real time: the batches of runs
// started at a steady rate, each run taking as long as 64 runs in flight
// at that rate take (Little's law), its five batches spread over it.
type liveHistory struct {
	mu       sync.Mutex
	cond     *sync.Cond
	planned  []plannedBatch // in stream order
	released int            // batches written so far
	times    []time.Time    // store time of each written batch
	start    time.Time
}

type plannedBatch struct {
	at   time.Duration // after start
	hdr  engine.BatchHeader
	data []byte
}

// threeActsBatches are a ThreeActs run's batches as the engine writes
// them: the start, then a workflow task per activity and one closing the
// run, each with the activity result that woke it.
func threeActsBatches(n int, at time.Time, span time.Duration) ([]engine.Batch, []time.Duration) {
	id := int64(0)
	ev := func(d time.Duration, typ engine.EventType, attrs any) engine.Event {
		id++
		return engine.Event{ID: id, Type: typ, Time: at.Add(d), Attrs: attrs}
	}
	step := span / 4
	wtc := func(d time.Duration) engine.Event {
		return ev(d, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{Identity: "bench-worker@host"})
	}
	sched := func(d time.Duration, seq int64) engine.Event {
		return ev(d, engine.EventActivityScheduled, &engine.ActivityScheduled{Seq: seq, ActivityType: "Noop", TaskQueue: benchQueue,
			Input: json.RawMessage(strconv.Itoa(int(seq))), Options: engine.ActivityOptions{StartToCloseTimeout: 30 * time.Second}})
	}
	done := func(d time.Duration, seq int64) engine.Event {
		return ev(d, engine.EventActivityCompleted, &engine.ActivityCompleted{Seq: seq, Attempt: 1, Result: json.RawMessage(strconv.Itoa(int(seq)))})
	}
	bs := []engine.Batch{{Kind: engine.BatchExternal, Events: []engine.Event{ev(0, engine.EventWorkflowStarted, &engine.WorkflowStarted{
		WorkflowID: fmt.Sprintf("bench-%d", n), RunID: fmt.Sprintf("run-%08d", n), WorkflowType: "ThreeActs", TaskQueue: benchQueue,
		Identity: "bench-client@host"})}}}
	offs := []time.Duration{0}
	for seq := int64(1); seq <= 4; seq++ {
		d := time.Duration(seq) * step
		var events []engine.Event
		if seq > 1 {
			events = append(events, done(d, seq-1))
		}
		events = append(events, wtc(d))
		if seq <= 3 {
			events = append(events, sched(d, seq))
		} else {
			events = append(events, ev(d, engine.EventWorkflowCompleted, &engine.WorkflowCompleted{Seq: 4, Result: json.RawMessage("6")}))
		}
		bs = append(bs, engine.Batch{Kind: engine.BatchTask, Events: events})
		offs = append(offs, d)
	}
	return bs, offs
}

func newLiveHistory(rate int, d time.Duration) *liveHistory {
	h := &liveHistory{}
	h.cond = sync.NewCond(&h.mu)
	span := time.Duration(float64(time.Second) * 64 / float64(rate))
	every := time.Second / time.Duration(rate)
	at := time.Now()
	for n := 0; time.Duration(n)*every < d; n++ {
		start := time.Duration(n) * every
		bs, offs := threeActsBatches(n, at.Add(start), span)
		for i, b := range bs {
			data, err := json.Marshal(b)
			if err != nil {
				panic(err)
			}
			hdr := engine.BatchHeader{RunID: fmt.Sprintf("run-%08d", n), WorkflowID: fmt.Sprintf("bench-%d", n), TaskQueue: benchQueue,
				Kind: b.Kind, FirstEventID: b.Events[0].ID, LastEventID: b.Events[len(b.Events)-1].ID, Closed: i == len(bs)-1}
			h.planned = append(h.planned, plannedBatch{at: start + offs[i], hdr: hdr, data: data})
		}
	}
	slices.SortStableFunc(h.planned, func(a, b plannedBatch) int { return int(a.at - b.at) })
	return h
}

// play writes the planned batches when they are due.
func (h *liveHistory) play(ctx context.Context) {
	h.mu.Lock()
	h.start = time.Now()
	h.mu.Unlock()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		h.mu.Lock()
		for h.released < len(h.planned) && h.start.Add(h.planned[h.released].at).Before(now) {
			h.times = append(h.times, now)
			h.released++
		}
		h.mu.Unlock()
		h.cond.Broadcast()
	}
}

func (h *liveHistory) batch(i int) engine.StoredBatch {
	p := h.planned[i]
	return engine.StoredBatch{Seq: uint64(i + 1), Header: p.hdr, Data: p.data, Time: h.times[i]}
}

func (h *liveHistory) ConsumeHistoryFrom(ctx context.Context, afterSeq uint64, max int, fn func([]engine.StoredBatch) error) error {
	stop := context.AfterFunc(ctx, h.cond.Broadcast)
	defer stop()
	next := int(afterSeq)
	for {
		h.mu.Lock()
		for h.released <= next && ctx.Err() == nil {
			h.cond.Wait()
		}
		var out []engine.StoredBatch
		for ; next < h.released && len(out) < max; next++ {
			out = append(out, h.batch(next))
		}
		h.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fn(out); err != nil {
			return err
		}
	}
}

func (h *liveHistory) LastHistorySeq(context.Context) (uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return uint64(h.released), nil
}

func (h *liveHistory) ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []engine.StoredBatch
	for i := int(afterSeq); i < h.released; i++ {
		if h.planned[i].hdr.RunID == runID {
			out = append(out, h.batch(i))
		}
	}
	return out, nil
}

// closed is how many runs' last batches were written.
func (h *liveHistory) closed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, p := range h.planned[:h.released] {
		if p.hdr.Closed {
			n++
		}
	}
	return n
}

// lagMS is the age of the oldest batch after applied (0 when none).
func (h *liveHistory) lagMS(applied uint64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if int(applied) >= h.released {
		return 0
	}
	return float64(time.Since(h.times[applied]).Microseconds()) / 1000
}
