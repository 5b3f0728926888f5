package visibility

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"

	"github.com/foremanhq/foreman/engine"
)

// runState is what the indexer knows of one run: its history batches up to
// lastSeq, the stream position of the newest one. They are kept encoded
// (a few hundred bytes each, nothing for the garbage collector to scan)
// and decoded when the run's document is built.
type runState struct {
	runID       string
	batches     [][]byte
	seqs        []uint64 // of batches
	lastSeq     uint64
	lastEventID int64 // of the newest batch folded in (from its header)
	bytes       int   // encoded size of the batches folded in
	closed      bool
	elem        *list.Element
}

// historyReader reads one run's history (engine.HistoryStore.ReadHistory).
type historyReader interface {
	ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error)
}

// runCache keeps the events of recently active runs, bounded by count and
// by encoded bytes, least recently used out first. A run not in the cache
// is read back from history (keeping only what the indexer has reached).
type runCache struct {
	maxRuns, maxBytes int
	bytes             int
	ll                *list.List // front: most recent
	runs              map[string]*runState
}

func newRunCache(maxRuns, maxBytes int) *runCache {
	return &runCache{maxRuns: max(maxRuns, 1), maxBytes: max(maxBytes, 1), ll: list.New(), runs: map[string]*runState{}}
}

func (c *runCache) get(runID string) *runState {
	st := c.runs[runID]
	if st != nil {
		c.ll.MoveToFront(st.elem)
	}
	return st
}

func (c *runCache) put(st *runState) {
	if old := c.runs[st.runID]; old != nil {
		c.remove(old)
	}
	st.elem = c.ll.PushFront(st)
	c.runs[st.runID] = st
	c.bytes += st.bytes
}

func (c *runCache) remove(st *runState) {
	if c.runs[st.runID] != st {
		return
	}
	c.ll.Remove(st.elem)
	delete(c.runs, st.runID)
	c.bytes -= st.bytes
}

// grow accounts for bytes folded into a cached run.
func (c *runCache) grow(st *runState, n int) {
	st.bytes += n
	if c.runs[st.runID] == st {
		c.bytes += n
	}
}

// trim evicts least recently used runs until within bounds.
func (c *runCache) trim() {
	for c.ll.Len() > c.maxRuns || (c.bytes > c.maxBytes && c.ll.Len() > 0) {
		c.remove(c.ll.Back().Value.(*runState))
	}
}

func (c *runCache) len() int { return c.ll.Len() }

// folder applies history batches to run states, in stream order.
type folder struct {
	cache *runCache
	src   historyReader
	log   *slog.Logger
	// unwritten holds the runs whose documents a window left to a later
	// one, with the position of their oldest batch not written yet. It is
	// kept apart from the cache, which may evict a run meanwhile.
	unwritten map[string]uint64
}

// apply folds b into its run's state and returns the state and how many
// batches it gained, or a nil state when b was folded in already. A run
// met for the first time in the middle of its history (its earlier batches
// were applied before a restart, or it left the cache) is read back from
// history up to b: it gains all its batches.
func (f *folder) apply(ctx context.Context, b engine.StoredBatch) (*runState, int, error) {
	runID := b.Header.RunID
	st := f.cache.get(runID)
	if st != nil && b.Seq <= st.lastSeq {
		return nil, 0, nil // already folded (a replay after restart)
	}
	if st == nil && b.Header.FirstEventID <= 1 {
		st = &runState{runID: runID}
		f.cache.put(st)
	}
	if st == nil || b.Header.FirstEventID != st.lastEventID+1 {
		// Unknown run, or a gap: rebuild the state from history.
		loaded, err := f.load(ctx, runID, b.Seq)
		if err != nil {
			return nil, 0, err
		}
		return loaded, len(loaded.batches), nil
	}
	f.fold(st, b)
	return st, 1, nil
}

// fold appends b to the run's batches (decoded when its document is
// built; event ids come from the header, so an undecodable batch still
// keeps the run's ids contiguous).
func (f *folder) fold(st *runState, b engine.StoredBatch) {
	st.batches = append(st.batches, b.Data)
	st.seqs = append(st.seqs, b.Seq)
	st.lastSeq, st.lastEventID = b.Seq, b.Header.LastEventID
	st.closed = st.closed || b.Header.Closed
	f.cache.grow(st, len(b.Data))
}

// load reads runID's history up to and including stream position upTo
// (later batches are folded when the indexer reaches them) and caches it.
func (f *folder) load(ctx context.Context, runID string, upTo uint64) (*runState, error) {
	batches, err := f.src.ReadHistory(ctx, runID, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the history of run %s: %w", runID, err)
	}
	st := &runState{runID: runID}
	for _, b := range batches {
		if b.Seq > upTo {
			break
		}
		f.fold(st, b)
	}
	f.cache.put(st)
	return st, nil
}
