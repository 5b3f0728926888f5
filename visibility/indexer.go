package visibility

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/backoff"
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
	// Window is the most history batches applied in one index write
	// (default 32768).
	Window int
	// Gather bounds how long batches that arrive while the indexer keeps
	// up are gathered before they are written (default 150ms): the updates
	// of a run within a window make one document write, and the index gets
	// fewer, larger segments. The indexer gathers for eight times as long
	// as its last write took, at least 100ms (sparseGather) and at most
	// Gather, and short enough that a window is searchable within
	// lagTarget of its oldest batch (10ms at the least).
	Gather time.Duration
	// Notify is called after each applied window (the engine publishes
	// searchapi.SubjectUpdates so consoles refresh).
	Notify func()
	// OnApplied, when set, is told about each applied window (metrics).
	OnApplied func(AppliedWindow)
	// OnEvents, when set, is given each run's events of each window's
	// batches once (the engine's rolling counters, internal/pulse), with
	// the run's WorkflowStarted event when the indexer holds it (nil
	// otherwise: its start time, type and queue). It is called from several
	// goroutines at once (one per shard).
	OnEvents func(started *engine.Event, events []engine.Event)
	Logger   *slog.Logger
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
	lastTook   atomic.Int64 // from the last window's cut to its write (ns)
	// observed is, per shard, the last batch OnEvents was shown (each
	// shard's fold runs on one goroutine at a time).
	observed []uint64

	skipMu sync.Mutex
	skips  map[string]bool // attribute name/type mismatches already logged
}

// NewIndexer returns an indexer of ix fed by src. Run it with Run.
func NewIndexer(ix *Index, src HistorySource, opts IndexerOptions) *Indexer {
	if opts.Window <= 0 {
		opts.Window = 32768
	}
	if opts.Gather <= 0 {
		opts.Gather = 150 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = ix.log
	}
	x := &Indexer{ix: ix, src: src, opts: opts, log: opts.Logger, skips: map[string]bool{}, observed: make([]uint64, len(ix.shards))}
	x.resetFolders()
	return x
}

func (x *Indexer) resetFolders() {
	n := len(x.ix.shards)
	x.folders = make([]*folder, n)
	for k := range x.folders {
		c := newRunCache(x.ix.opts.cacheRuns/n, x.ix.opts.cacheMB<<20/n)
		x.folders[k] = &folder{cache: c, src: x.src, log: x.log, unwritten: map[string]uint64{}}
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
	pause := backoff.Loop{Policy: backoff.Policy{Initial: 100 * time.Millisecond, Factor: 2, Max: 5 * time.Second}}
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
		if !pause.Wait(ctx) {
			return ctx.Err()
		}
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

	// Far behind (a rebuild, a restart after a long stop), only full
	// windows are written: the reader falling briefly behind the writer
	// would otherwise cut small windows, whose small segments merges
	// then rewrite (measured: a third of the windows of a 100,000-run
	// rebuild over NATS were cut short). Not for longer than
	// maxCatchUpWait: the batches up to the head may have been deleted.
	head := x.historyHead(ctx)
	var pending []engine.StoredBatch
	var pendingSince time.Time
	var timer <-chan time.Time
	for {
		gathered := false
		select {
		case bs := <-feed:
			if timer == nil {
				timer = time.After(x.gather())
			}
			if len(pending) == 0 {
				pendingSince = time.Now()
			}
			pending = append(pending, bs...)
			if len(pending) < x.fullWindow(pending, head) {
				continue
			}
		case <-timer:
			if pending[0].Seq+uint64(x.fullWindow(pending, head)) <= head && time.Since(pendingSince) < maxCatchUpWait {
				timer = time.After(x.gather()) // a full window is on its way
				continue
			}
			timer, gathered = nil, true
		case err := <-written: // failed, or caught up
			return err
		case err := <-readErr:
			return fail(err)
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		// Full windows now; the rest once gathered (it may fill up).
		for len(pending) > 0 && (gathered || len(pending) >= x.fullWindow(pending, head)) {
			n := min(len(pending), x.opts.Window)
			var ahead []engine.StoredBatch
			if x.fullWindow(pending, head) > x.opts.Window {
				ahead = pending[n:]
			}
			w, err := x.prepare(ctx, pending[:n], ahead, from)
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
			pending, pendingSince = pending[n:], time.Now()
		}
		if len(pending) == 0 {
			pending, timer = nil, nil
		}
	}
}

// maxCatchUpWait bounds how long a window waits for the batches the head
// of history promised.
const maxCatchUpWait = 5 * time.Second

// fullWindow is how many pending batches a window waits for: Window, and
// far behind the head an eighth more, read before the window is cut so
// that the window's runs that go on in them are written with the next
// window rather than twice (prepare). Runs interleave in history (a few
// hundred in flight), so a run's batches span a few thousand positions:
// an eighth of a window sees the next batch of nearly every run the window
// leaves open. Measured at a million runs: 6 % of the documents written
// were a run's state that the next window replaced.
func (x *Indexer) fullWindow(pending []engine.StoredBatch, head uint64) int {
	full := x.opts.Window + x.opts.Window/8
	if len(pending) == 0 || pending[0].Seq+uint64(full) > head {
		return x.opts.Window
	}
	return full
}

// historyHead is the position of the newest history batch when the source
// can tell (the jetstream Store can), else 0.
func (x *Indexer) historyHead(ctx context.Context) uint64 {
	h, ok := x.src.(HistoryHead)
	if !ok {
		return 0
	}
	seq, err := h.LastHistorySeq(ctx)
	if err != nil {
		return 0
	}
	return seq
}

// gather is how long arriving batches are gathered into a window while the
// writer is idle: gatherPerWrite times as long as the last write took,
// at least sparseGather, at most opts.Gather, and no longer than leaves
// lagTarget for the window's oldest batch once the window takes as long as
// the last took to be prepared and written (twice that: the previous
// window may still be written meanwhile), minGather at the least. Under
// light load windows are written ten times a second; under heavy load a
// window holds what arrives in a few writes' time, so a run's several
// batches make one document write and each segment's fixed cost (a
// dictionary per field, each costing a 20,000-cell reset of its FST
// builder in zapx) is paid less often; on a starved machine, where windows
// take long, lag wins over CPU.
func (x *Indexer) gather() time.Duration {
	g := max(gatherPerWrite*time.Duration(x.lastWrite.Load()), sparseGather)
	g = min(g, lagTarget-2*time.Duration(x.lastTook.Load()), x.opts.Gather)
	return max(g, minGather)
}

// gatherPerWrite: measured in the deployed shape at full load (8 s reps,
// alternating), 1 gave 2.6-3.6 ms CPU per run, 4 gave 2.2-2.4 ms with index
// lag p99 160-300 ms (Gather 100 ms). Live indexing alone at 1,000
// ThreeActs runs/s (bench's TestIndexLiveInMemory, a shared machine):
// 4 and 100 ms wrote 1.6-1.7 documents per run in 10-11 windows a second,
// 8 and 250 ms 1.25 in 3.5-4.5, for a fifth less CPU per run. Gather's
// default is 150 ms, not more: with 200 ms the deployed shape's lag p99
// came out 520-740 ms on the shared machine (100 ms: 430-930), and once
// segments no longer paid a full FST registry reset per field
// (scorchsnap.TuneFSTBuilder) a window's fixed cost matters less.
const gatherPerWrite = 8

// lagTarget is the index lag gather aims under: the search API promises
// 500 ms at p99 under full load.
const lagTarget = 300 * time.Millisecond

const minGather = 10 * time.Millisecond

// sparseGather is how long a window gathers at least while the lag target
// allows it: windows are written at most ten times a second, also when few
// runs arrive. A window's segment costs about the same to build, persist
// and merge whether it holds three runs or thirty (a dictionary per field),
// and under a steady trickle of runs, where writes take a millisecond and
// the window was gathered for minGather, the indexer wrote 35-50 segments a
// second, each a burst of CPU competing with the runs being timed.
// Measured with the indexer alone fed 330 ThreeActs runs a second, one at
// a time (bench's TestIndexLiveInMemory with each run taking 3 ms instead
// of 64 in flight; the deployed benchmark's latency phase): 47 windows a
// second and 1.04 ms of CPU per run with 10 ms, 9.4 and 0.64 ms with
// 100 ms (in the profile, the persister's merges of the small segments
// 0.69 s against 0.44 s, the segment builds 1.06 s against 0.46 s). 200 ms
// did no better for the deployed end-to-end p99 and doubles the lag.
const sparseGather = 100 * time.Millisecond

// sparse tells whether history arrives sparsely: whether windows are
// gathered for sparseGather rather than for longer than their writes. Then
// the index's merges pace themselves (scorchsnap.SetPaced): what competes
// for the CPU is runs someone is waiting for, not more history to index.
func (x *Indexer) sparse() bool {
	return gatherPerWrite*time.Duration(x.lastWrite.Load()) <= sparseGather
}

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
