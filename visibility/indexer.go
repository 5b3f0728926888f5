package visibility

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2/document"

	"github.com/foremanhq/foreman/engine"
)

// HistorySource is the history the indexer reads (the jetstream Store):
// every batch of every run in stream order from a position, and one run's
// history when a run must be read back.
type HistorySource interface {
	ConsumeHistoryFrom(ctx context.Context, afterSeq uint64, max int, fn func([]engine.StoredBatch) error) error
	ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error)
}

// IndexerOptions configure an Indexer.
type IndexerOptions struct {
	// Window is the most history batches applied in one index write per
	// shard (default 32768): a rebuild writes large, efficient segments.
	Window int
	// Gather bounds how long batches that arrive while the indexer keeps
	// up are gathered before they are written (default 100ms): the updates
	// of a run within a window make one document write, and the index gets
	// fewer, larger segments. The indexer gathers for as long as its last
	// write took, within 10ms and Gather.
	Gather time.Duration
	// Notify is called after each applied window (the engine publishes
	// visibility.SubjectUpdates so consoles refresh).
	Notify func()
	// OnApplied, when set, is told about each applied window (metrics).
	OnApplied func(AppliedWindow)
	Logger    *slog.Logger
}

// AppliedWindow describes one applied window of history.
type AppliedWindow struct {
	FirstSeq, LastSeq uint64
	// Stored are the store times of the window's batches, in order: the
	// lag of each is At minus its time.
	Stored []time.Time
	Docs   int // run documents written
	At     time.Time
	Took   time.Duration
}

// Indexer keeps an Index up to date with history: it reads every history
// batch in stream order from the index's applied position, folds each
// touched run's batches into its document (several updates of a run in a
// window make one document write) and writes each window to every shard
// together with the position it reaches.
type Indexer struct {
	ix      *Index
	src     HistorySource
	opts    IndexerOptions
	log     *slog.Logger
	folders []*folder

	// writeAttrs makes the next window store the attribute registry (after
	// a failed window, whose registry changes may not have been stored).
	writeAttrs bool
	lastWrite  atomic.Int64 // how long the last window took to write (ns)

	skipMu sync.Mutex
	skips  map[string]bool // attribute name/type mismatches already logged
}

// NewIndexer returns an indexer of ix fed by src. Run it with Run.
func NewIndexer(ix *Index, src HistorySource, opts IndexerOptions) *Indexer {
	if opts.Window <= 0 {
		opts.Window = 32768
	}
	if opts.Gather <= 0 {
		opts.Gather = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = ix.log
	}
	x := &Indexer{ix: ix, src: src, opts: opts, log: opts.Logger, skips: map[string]bool{}}
	x.resetFolders()
	return x
}

func (x *Indexer) resetFolders() {
	n := len(x.ix.shards)
	x.folders = make([]*folder, n)
	for k := range x.folders {
		c := newRunCache(x.ix.opts.cacheRuns/n, x.ix.opts.cacheMB<<20/n)
		x.folders[k] = &folder{cache: c, src: x.src, log: x.log}
	}
}

// Run indexes until ctx ends (returning ctx.Err()). A failure (history
// unreadable, index write refused) is logged and retried from the last
// applied position after a pause.
func (x *Indexer) Run(ctx context.Context) error {
	return x.run(ctx, 0)
}

// CatchUp indexes until the index has applied history up to seq (LastHistorySeq
// when it started, for a rebuild), then returns.
func (x *Indexer) CatchUp(ctx context.Context, seq uint64) error {
	if x.ix.AppliedSeq() >= seq {
		return nil
	}
	return x.run(ctx, seq)
}

var errCaughtUp = errors.New("caught up")

func (x *Indexer) run(ctx context.Context, until uint64) error {
	pause := 100 * time.Millisecond
	for {
		err := x.follow(ctx, until)
		if errors.Is(err, errCaughtUp) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		x.log.Warn("search indexer: retrying from the last applied position", "applied_seq", x.ix.AppliedSeq(), "err", err)
		// Cached run states may be ahead of what was written: start over.
		x.resetFolders()
		x.writeAttrs = true
		x.ix.bounds.markChanged()
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return ctx.Err()
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// follow reads history from the applied position and applies it in
// windows, in two stages that overlap: the next window is prepared (runs
// folded, documents built) while the previous one is written. A window is
// prepared as soon as a full one is there, else once batches have been
// gathered for a while (gather). It returns errCaughtUp once until is
// applied.
func (x *Indexer) follow(ctx context.Context, until uint64) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	feed := make(chan []engine.StoredBatch, 1)
	readErr := make(chan error, 1)
	go func() {
		readErr <- x.src.ConsumeHistoryFrom(ctx, x.ix.AppliedSeq(), x.opts.Window, func(bs []engine.StoredBatch) error {
			select {
			case feed <- slices.Clone(bs):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	// Shards may stand at different positions after a restart: each skips
	// what it has applied already.
	from := make([]uint64, len(x.ix.shards))
	for k, s := range x.ix.shards {
		from[k] = s.seq
	}
	windows := make(chan *window, 1) // one waits while another is written
	written := make(chan error, 1)
	go func() { written <- x.writeLoop(ctx, windows, until) }()
	fail := func(err error) error {
		stop()
		<-written
		return err
	}

	var pending []engine.StoredBatch
	var timer <-chan time.Time
	for {
		gathered := false
		select {
		case bs := <-feed:
			if len(pending) == 0 {
				timer = time.After(x.gather())
			}
			pending = append(pending, bs...)
			if len(pending) < x.opts.Window {
				continue
			}
		case <-timer:
			gathered = true
		case err := <-written: // failed, or caught up
			return err
		case err := <-readErr:
			return fail(err)
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		// Full windows now; the rest once gathered (it may fill up).
		for len(pending) >= x.opts.Window || gathered && len(pending) > 0 {
			n := min(len(pending), x.opts.Window)
			w, err := x.prepare(ctx, pending[:n], from)
			if err != nil {
				return fail(err)
			}
			select {
			case windows <- w:
			case err := <-written:
				return err
			case <-ctx.Done():
				return fail(ctx.Err())
			}
			pending = pending[n:]
		}
		if len(pending) == 0 {
			pending, timer = nil, nil
		}
	}
}

// gather is how long arriving batches are gathered into a window while the
// writer is idle: as long as the last write took, within [minGather,
// opts.Gather]. Under light load windows are written within milliseconds;
// under heavy load each window is about what arrives while the previous one
// is written, so a run's several batches make one document write.
func (x *Indexer) gather() time.Duration {
	return min(max(time.Duration(x.lastWrite.Load()), minGather), x.opts.Gather)
}

const minGather = 10 * time.Millisecond

// writeLoop writes prepared windows in order until ctx ends or a write
// fails, or (until > 0) once history up to until is applied (errCaughtUp).
func (x *Indexer) writeLoop(ctx context.Context, windows <-chan *window, until uint64) error {
	for {
		select {
		case w := <-windows:
			if err := x.write(w); err != nil {
				return err
			}
			if until > 0 && x.ix.AppliedSeq() >= until {
				return errCaughtUp
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// attrCandidate is a custom attribute seen in history: registered in
// stream order, so the first type seen wins the same way on every rebuild.
type attrCandidate struct {
	seq  uint64
	name string
	typ  engine.SearchAttributeType
}

// touchedRun is a run changed by a window: its events, of which those from
// newFrom on arrived in the window.
type touchedRun struct {
	st      *runState
	events  []engine.Event
	newFrom int
}

// shardWork is one shard's part of a window.
type shardWork struct {
	batches []engine.StoredBatch
	touched []*touchedRun
	attrs   []attrCandidate
	docs    []*document.Document
	err     error
}

// window is a prepared window: each shard's documents, and what is stored
// with them.
type window struct {
	work          []shardWork
	end           uint64 // the last history position it covers
	first         uint64
	stored        []time.Time // store times of its batches, in order
	attrs, bounds []byte      // registry and bounds to store, when changed
	start         time.Time
}

// prepare folds a window's batches into their runs' states and builds the
// touched runs' documents: fold and decode per shard in parallel, register
// new attributes in stream order, build documents per shard in parallel.
// Batches a shard has applied already (at or before from[k]) are skipped.
func (x *Indexer) prepare(ctx context.Context, batches []engine.StoredBatch, from []uint64) (*window, error) {
	w := &window{work: make([]shardWork, len(x.ix.shards)), first: batches[0].Seq, end: batches[len(batches)-1].Seq, start: time.Now()}
	w.stored = make([]time.Time, len(batches))
	for i, b := range batches {
		w.stored[i] = b.Time
		k := x.ix.shardOf(b.Header.RunID)
		if b.Seq > from[k] {
			w.work[k].batches = append(w.work[k].batches, b)
		}
	}
	x.parallel(w.work, func(k int, sw *shardWork) { sw.err = x.fold(ctx, k, sw) })
	var cands []attrCandidate
	for k := range w.work {
		if w.work[k].err != nil {
			return nil, w.work[k].err
		}
		cands = append(cands, w.work[k].attrs...)
	}
	if x.writeAttrs {
		w.attrs = x.ix.reg.marshal()
		x.writeAttrs = false
	}
	if len(cands) > 0 {
		slices.SortStableFunc(cands, func(a, b attrCandidate) int {
			return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.name, b.name))
		})
		changed := false
		for _, c := range cands {
			changed = x.ix.reg.register(c.name, c.typ) || changed
		}
		if changed {
			w.attrs = x.ix.reg.marshal()
		}
	}
	x.parallel(w.work, func(k int, sw *shardWork) {
		f := x.folders[k]
		for _, t := range sw.touched {
			doc, err := x.ix.builder.build(deriveFacts(t.events), x.ix.reg, x.ix.bounds, x.skipped)
			if err != nil {
				x.log.Error("search indexer: skipping a run's document", "run", t.st.runID, "err", err)
				continue
			}
			sw.docs = append(sw.docs, doc)
			if t.st.closed {
				f.cache.remove(t.st) // closed runs rarely change again
			}
		}
		sw.touched = nil
		f.cache.trim()
	})
	w.bounds = x.ix.bounds.takeChanged()
	return w, nil
}

// write writes a prepared window to every shard (in parallel), each with
// the position it reaches, and publishes the position.
func (x *Indexer) write(w *window) error {
	t0 := time.Now()
	x.parallel(w.work, func(k int, sw *shardWork) {
		sw.err = x.ix.writeShard(k, sw.docs, w.end, w.attrs, w.bounds)
	})
	docs := 0
	for k := range w.work {
		if w.work[k].err != nil {
			return w.work[k].err
		}
		docs += len(w.work[k].docs)
	}
	x.ix.advance(w.end)
	now := time.Now()
	x.lastWrite.Store(int64(now.Sub(t0)))
	if x.opts.Notify != nil {
		x.opts.Notify()
	}
	if x.opts.OnApplied != nil {
		x.opts.OnApplied(AppliedWindow{FirstSeq: w.first, LastSeq: w.end, Stored: w.stored, Docs: docs, At: now, Took: now.Sub(w.start)})
	}
	return nil
}

// fold applies a shard's batches to its run states, then decodes each
// touched run (once per window) and collects the attributes its new
// events upsert.
func (x *Indexer) fold(ctx context.Context, k int, w *shardWork) error {
	f := x.folders[k]
	newBatches := map[*runState]int{} // batches added in this window
	var order []*runState
	for _, b := range w.batches {
		st, added, err := f.apply(ctx, b)
		if err != nil {
			return err
		}
		if st == nil {
			continue
		}
		if _, seen := newBatches[st]; !seen {
			order = append(order, st)
		}
		if added == len(st.batches) {
			newBatches[st] = added // read back from history: all of it is new
		} else {
			newBatches[st] += added
		}
	}
	for _, st := range order {
		t := &touchedRun{st: st}
		firstNew := len(st.batches) - newBatches[st]
		for i, data := range st.batches {
			if i == firstNew {
				t.newFrom = len(t.events)
			}
			events, err := decodeEvents(data)
			if err != nil {
				x.log.Error("search indexer: skipping an undecodable history batch", "run", st.runID, "seq", st.seqs[i], "err", err)
				continue
			}
			if i >= firstNew {
				for _, e := range events {
					if a, ok := e.Attrs.(*engine.SearchAttributesUpserted); ok {
						for name, v := range a.Attributes {
							if _, known := x.ix.reg.typeOf(name); !known {
								w.attrs = append(w.attrs, attrCandidate{seq: st.seqs[i], name: name, typ: v.Type})
							}
						}
					}
				}
			}
			t.events = append(t.events, events...)
		}
		w.touched = append(w.touched, t)
	}
	return nil
}

// parallel runs fn for every shard's work, concurrently when there are
// several shards.
func (x *Indexer) parallel(work []shardWork, fn func(k int, w *shardWork)) {
	if len(work) == 1 {
		fn(0, &work[0])
		return
	}
	var wg sync.WaitGroup
	for k := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(k, &work[k])
		}()
	}
	wg.Wait()
}

// skipped logs a custom attribute value that does not fit its registered
// type, once per name and type.
func (x *Indexer) skipped(name string, got, registered engine.SearchAttributeType) {
	key := name + "\x00" + string(got)
	x.skipMu.Lock()
	logged := x.skips[key]
	x.skips[key] = true
	x.skipMu.Unlock()
	if !logged {
		x.log.Warn("search index: skipping custom attribute values of a different type than first seen",
			"attribute", name, "type", got, "indexed_as", registered)
	}
}

// String names the indexer in logs.
func (x *Indexer) String() string { return fmt.Sprintf("indexer(%s)", x.ix.dir) }
