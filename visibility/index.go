// Package visibility is the search index of runs, built with bleve from
// history, and the search API foreman-engine serves from it. Its parts:
//
//   - searchapi: the API as callers see it (requests, results, errors,
//     client), without bleve: what the console links;
//   - fields: the one table of built-in fields, which the mapping
//     (mapping.go), the document builder (docbuild.go), the query schema
//     and the sort windows are built from;
//   - query: the two query dialects, parsed into bleve queries;
//   - internal/scorchsnap: everything that reaches below bleve's public
//     API into scorch.
package visibility

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/foremanhq/foreman/visibility/internal/scorchsnap"
)

// Index is the search index over every run: one bleve (scorch) index per
// shard, runs spread over shards by run id, each shard storing with its
// documents the history position they cover. It is derived data: OpenIndex
// rebuilds it from scratch (empty, position 0) when it is missing, corrupt
// or written by another mapping version, and the Indexer fills it from
// history.
type Index struct {
	dir     string
	log     *slog.Logger
	opts    options
	mapping mapping.IndexMapping
	builder *docBuilder
	shards  []*shard
	search  bleve.Index // the shards as one (an alias when there are several)
	reg     *attrRegistry
	bounds  *fieldBounds

	mu      sync.Mutex
	applied uint64        // every shard has applied history up to here
	changed chan struct{} // closed and replaced when applied moves
	closed  bool

	watch dirWatch // tells when the directory is removed under us
}

// shard is one bleve index and the history position it has applied.
type shard struct {
	name string
	idx  bleve.Index
	seq  uint64
}

// Internal keys stored in each shard, written in the same batch as the
// documents they describe.
var (
	keySeq    = []byte("foreman.applied_seq")
	keyAttrs  = []byte("foreman.attrs")
	keyBounds = []byte("foreman.bounds")
)

const metaFile = "foreman-index.json"

// indexMeta is the index directory's description: a different version or
// shard count means a rebuild.
type indexMeta struct {
	Version string `json:"version"`
	Shards  int    `json:"shards"`
}

// ErrIndexInUse: another process has the index open.
var ErrIndexInUse = errors.New("search index in use by another process")

// Option configures OpenIndex.
type Option func(*options)

type options struct {
	shards    int
	cacheRuns int
	cacheMB   int
}

// DefaultShards is how many bleve indexes runs are spread over: two, so
// that building segments (single-threaded per index) and searching use
// both cores of a small machine.
const DefaultShards = 2

// WithShards spreads runs over n bleve indexes (1 to 64). Changing it
// rebuilds the index.
func WithShards(n int) Option { return func(o *options) { o.shards = n } }

// WithRunCache bounds the events the indexer keeps of recently active runs
// (runs not kept are read back from history when they change).
func WithRunCache(runs, megabytes int) Option {
	return func(o *options) { o.cacheRuns, o.cacheMB = runs, megabytes }
}

// bleveConfig is the scorch runtime configuration. unsafe_batch: a batch
// returns once searchable, and is persisted in the background; a crash
// loses the newest batches together with the position they advanced, so
// the indexer applies them again. bolt_timeout: a second process opening
// the index fails instead of waiting forever.
//
// Segment merges were a quarter of the CPU time of building a million-run
// index and half of keeping it up to date under load (each window of
// live history is a small segment per shard, ten a second, most of whose
// documents a later window replaces). The merge plan merges 20 segments
// at a time and keeps up to 20 per size tier (bleve: 10 and 10), which
// halves merging in a build; searches visit a few more segments. The
// persister gathers the segments written in half a second (searchable
// meanwhile) and merges them in memory before writing one file: documents
// replaced meanwhile are dropped rather than written and merged again.
// Closing the index waits for that pause.
//
// FloorSegmentSize (bleve: 2,000 documents) is what the merge plan counts
// a smaller segment as, and the first tier is floor-sized: an index of a
// few thousand runs per shard was allowed two or three segments, so every
// persisted live segment (~100 runs per shard under 450 runs/s) merged the
// whole shard again. Measured in the deployed shape (8 s at full load from
// an empty index): merges took half the engine's CPU, 7 s of 15; with a
// floor of 100, 0.4 s of 12, at twice the throughput. Rebuild segments are
// far above either floor.
func bleveConfig() map[string]any {
	return map[string]any{"unsafe_batch": true, "bolt_timeout": "1s",
		"scorchMergePlanOptions": map[string]any{"MaxSegmentsPerTier": 20, "SegmentsPerMergeTask": 20, "FloorSegmentSize": 100},
		"scorchPersisterOptions": map[string]any{"PersisterNapTimeMSec": 500, "PersisterNapUnderNumFiles": 1000}}
}

// OpenIndex opens the index in dir, creating it if needed, and rebuilding
// it (empty, to be refilled from history) if it cannot be used as it is.
// It fails with ErrIndexInUse if another process holds it.
func OpenIndex(dir string, log *slog.Logger, opts ...Option) (*Index, error) {
	o := options{shards: DefaultShards, cacheRuns: 20_000, cacheMB: 128}
	for _, fn := range opts {
		fn(&o)
	}
	if o.shards < 1 || o.shards > 64 {
		return nil, fmt.Errorf("search index: %d shards: want 1 to 64", o.shards)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	scorchsnap.TuneFSTBuilder()
	scorchsnap.PaceMerges()
	m, err := buildMapping()
	if err != nil {
		return nil, fmt.Errorf("search index mapping: %w", err)
	}
	b, err := newDocBuilder(m)
	if err != nil {
		return nil, err
	}
	ix := &Index{dir: dir, log: log, opts: o, mapping: m, builder: b, reg: newAttrRegistry(), bounds: newFieldBounds(), changed: make(chan struct{})}
	reason, err := ix.open()
	if err != nil {
		return nil, err
	}
	if reason != "" {
		log.Warn("search index unusable: rebuilding it from history", "dir", dir, "reason", reason)
		ix.closeShards()
		if err := RemoveIndex(dir); err != nil {
			return nil, err
		}
		ix.reg, ix.bounds = newAttrRegistry(), newFieldBounds()
		if reason, err = ix.open(); err != nil {
			return nil, err
		}
		if reason != "" {
			return nil, fmt.Errorf("search index in %s: cannot create: %s", dir, reason)
		}
	}
	ix.applied = ix.shards[0].seq
	for _, s := range ix.shards {
		ix.applied = min(ix.applied, s.seq)
	}
	if len(ix.shards) == 1 {
		ix.search = ix.shards[0].idx
	} else {
		idxs := make([]bleve.Index, len(ix.shards))
		for i, s := range ix.shards {
			idxs[i] = s.idx
		}
		ix.search = bleve.NewIndexAlias(idxs...)
	}
	ix.watch.start(filepath.Join(dir, metaFile), log)
	return ix, nil
}

// open opens or creates every shard. A non-empty reason says why the index
// must be rebuilt; err is for what a rebuild cannot fix.
func (ix *Index) open() (reason string, err error) {
	if err := os.MkdirAll(ix.dir, 0o755); err != nil {
		return "", fmt.Errorf("search index directory: %w", err)
	}
	want := indexMeta{Version: mappingVersion, Shards: ix.opts.shards}
	metaPath := filepath.Join(ix.dir, metaFile)
	data, err := os.ReadFile(metaPath)
	fresh := errors.Is(err, os.ErrNotExist)
	switch {
	case fresh:
		if n, _ := ix.shardDirs(); n > 0 {
			return "index metadata missing", nil
		}
	case err != nil:
		return "", fmt.Errorf("search index metadata: %w", err)
	default:
		var have indexMeta
		if err := json.Unmarshal(data, &have); err != nil {
			return "index metadata corrupt: " + err.Error(), nil
		}
		if have.Version != want.Version {
			return fmt.Sprintf("mapping version %q, this engine writes %q", have.Version, want.Version), nil
		}
		if have.Shards != want.Shards {
			return fmt.Sprintf("%d shards, configured %d", have.Shards, want.Shards), nil
		}
	}
	for k := range want.Shards {
		s := &shard{name: fmt.Sprintf("shard-%d", k)}
		path := filepath.Join(ix.dir, s.name)
		if fresh {
			s.idx, err = bleve.NewUsing(path, ix.mapping, "scorch", "scorch", bleveConfig())
		} else {
			s.idx, err = bleve.OpenUsing(path, bleveConfig())
		}
		if errors.Is(err, berrors.ErrTimeout) {
			ix.closeShards()
			return "", fmt.Errorf("%w: %s (stop the foreman-engine using it first)", ErrIndexInUse, ix.dir)
		}
		if err != nil {
			ix.closeShards()
			return fmt.Sprintf("%s: %v", s.name, err), nil
		}
		ix.shards = append(ix.shards, s)
		if fresh {
			continue
		}
		if s.seq, err = readSeq(s.idx); err != nil {
			ix.closeShards()
			return fmt.Sprintf("%s: %v", s.name, err), nil
		}
		attrs, err := s.idx.GetInternal(keyAttrs)
		if err == nil {
			err = ix.reg.merge(attrs)
		}
		if err == nil {
			var bounds []byte
			if bounds, err = s.idx.GetInternal(keyBounds); err == nil {
				err = ix.bounds.merge(bounds)
			}
		}
		if err != nil {
			ix.closeShards()
			return fmt.Sprintf("%s: %v", s.name, err), nil
		}
	}
	if fresh {
		meta, _ := json.Marshal(want)
		if err := writeFileSync(metaPath, meta); err != nil {
			ix.closeShards()
			return "", fmt.Errorf("search index metadata: %w", err)
		}
		ix.log.Info("created a new search index; filling it from history", "dir", ix.dir, "shards", want.Shards)
	}
	return "", nil
}

func readSeq(idx bleve.Index) (uint64, error) {
	v, err := idx.GetInternal(keySeq)
	if err != nil || len(v) == 0 {
		return 0, err
	}
	seq, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stored history position %q: %w", v, err)
	}
	return seq, nil
}

// shardDirs counts the shard directories in dir.
func (ix *Index) shardDirs() (int, error) {
	entries, err := os.ReadDir(ix.dir)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "shard-") {
			n++
		}
	}
	return n, err
}

func (ix *Index) closeShards() {
	for _, s := range ix.shards {
		_ = s.idx.Close()
	}
	ix.shards = nil
}

// RemoveIndex deletes the index in dir (its metadata and shards; nothing
// else in dir), so that the next OpenIndex starts empty.
func RemoveIndex(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing the search index: %w", err)
	}
	for _, e := range entries {
		if e.Name() == metaFile || strings.HasPrefix(e.Name(), "shard-") {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("removing the search index: %w", err)
			}
		}
	}
	return nil
}

func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// shardOf is the shard that holds runID.
func (ix *Index) shardOf(runID string) int {
	if len(ix.shards) == 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(runID))
	return int(h.Sum32() % uint32(len(ix.shards)))
}

// AppliedSeq is the history position the index has applied: every batch
// at or before it is searchable.
func (ix *Index) AppliedSeq() uint64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.applied
}

// WaitForSeq waits until the index has applied history up to seq, or ctx
// ends (its error is returned).
func (ix *Index) WaitForSeq(ctx context.Context, seq uint64) error {
	for {
		ix.mu.Lock()
		applied, ch := ix.applied, ix.changed
		ix.mu.Unlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// writeShard indexes docs in shard k and records that the shard has
// applied history up to seq, in one batch: a restart resumes exactly
// after what was saved. attrs and bounds, when set, are the new attribute
// registry and field bounds.
func (ix *Index) writeShard(k int, docs []*document.Document, seq uint64, attrs, bounds []byte) error {
	s := ix.shards[k]
	b := s.idx.NewBatch()
	for _, d := range docs {
		if err := b.IndexAdvanced(d); err != nil {
			return fmt.Errorf("indexing run %s: %w", d.ID(), err)
		}
	}
	b.SetInternal(keySeq, []byte(strconv.FormatUint(seq, 10)))
	if attrs != nil {
		b.SetInternal(keyAttrs, attrs)
	}
	if bounds != nil {
		b.SetInternal(keyBounds, bounds)
	}
	if err := s.idx.Batch(b); err != nil {
		return fmt.Errorf("writing search index %s: %w", s.name, err)
	}
	s.seq = seq
	return nil
}

// advance publishes a new applied position to waiters.
func (ix *Index) advance(seq uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if seq <= ix.applied {
		return
	}
	ix.applied = seq
	close(ix.changed)
	ix.changed = make(chan struct{})
}

// Close persists what the index holds and closes it.
func (ix *Index) Close() error {
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return nil
	}
	ix.closed = true
	ix.mu.Unlock()
	ix.watch.stop()
	// Shards persist in parallel: each waits for its persister's pause
	// (bleveConfig).
	return ix.eachShard(func(_ int, s *shard) error {
		if err := flush(s, ix.watch.gone); err != nil {
			ix.log.Warn("search index: newest batches not persisted; they will be applied again", "shard", s.name, "err", err)
		}
		if err := s.idx.Close(); err != nil {
			return fmt.Errorf("closing search index %s: %w", s.name, err)
		}
		return nil
	})
}

// eachShard runs fn on every shard concurrently and returns their errors.
func (ix *Index) eachShard(fn func(k int, s *shard) error) error {
	if len(ix.shards) == 1 {
		return fn(0, ix.shards[0])
	}
	errs := make([]error, len(ix.shards))
	var wg sync.WaitGroup
	for k, s := range ix.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = fn(k, s)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// reader opens a reader of the shard's current snapshot (the caller
// closes it).
func (s *shard) reader() (index.IndexReader, error) {
	adv, err := s.idx.Advanced()
	if err != nil {
		return nil, err
	}
	return adv.Reader()
}

// flush waits until everything the shard has applied is on disk (batches
// are persisted in the background; closing does not wait for them). It
// gives up at once if the directory is gone: the persister then retries
// forever and the callback never comes.
func flush(s *shard, gone func() bool) error {
	if gone() {
		return errIndexDirGone
	}
	done := make(chan error, 1)
	b := s.idx.NewBatch()
	b.SetInternal(keySeq, []byte(strconv.FormatUint(s.seq, 10)))
	b.SetPersistedCallback(func(err error) {
		select {
		case done <- err:
		default:
		}
	})
	if err := s.idx.Batch(b); err != nil {
		return err
	}
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			if gone() {
				return errIndexDirGone
			}
		case <-deadline:
			return errors.New("timed out waiting for the index to persist")
		}
	}
}
