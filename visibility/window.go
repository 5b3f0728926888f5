package visibility

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/blevesearch/bleve/v2/document"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/internal/scorchsnap"
)

// A window is the unit of indexing: the history batches gathered for one
// write, folded into their runs' states and built into documents per shard
// (prepare) while the previous window is written (write).

// attrCandidate is a custom attribute seen in history: registered in
// stream order, so the first type seen wins the same way on every rebuild.
type attrCandidate struct {
	seq  uint64
	name string
	typ  engine.SearchAttributeType
}

// touchedRun is a run whose document a window writes: its events.
type touchedRun struct {
	st     *runState
	events []engine.Event
}

// shardWork is one shard's part of a window.
type shardWork struct {
	batches []engine.StoredBatch
	touched []*touchedRun
	attrs   []attrCandidate
	docs    []*document.Document
	// seq is the position the shard stands at once written: the window's
	// end, or just before the oldest batch of a run left to a later
	// window.
	seq uint64
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
//
// Runs that are still open and have batches in ahead (read beyond the
// window) are left to a later window, which writes their whole state once;
// until then each shard's position stays below the oldest batch it has
// not written, so that a restart reads it again and a reader waiting for a
// position sees every batch up to it.
func (x *Indexer) prepare(ctx context.Context, batches, ahead []engine.StoredBatch, from []uint64) (*window, error) {
	w := &window{work: make([]shardWork, len(x.ix.shards)), first: batches[0].Seq, end: batches[len(batches)-1].Seq, start: time.Now()}
	w.stored = make([]time.Time, len(batches))
	for i, b := range batches {
		w.stored[i] = b.Time
		k := x.ix.shardOf(b.Header.RunID)
		if b.Seq > from[k] {
			w.work[k].batches = append(w.work[k].batches, b)
		}
	}
	var later map[string]bool
	if len(ahead) > 0 {
		later = make(map[string]bool, len(ahead))
		for _, b := range ahead {
			later[b.Header.RunID] = true
		}
	}
	if err := x.parallel(w.work, func(k int, sw *shardWork) error { return x.fold(ctx, k, sw, later) }); err != nil {
		return nil, err
	}
	var cands []attrCandidate
	for k := range w.work {
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
	_ = x.parallel(w.work, func(k int, sw *shardWork) error {
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
		return nil
	})
	for k := range w.work {
		w.work[k].seq = w.end
		for _, seq := range x.folders[k].unwritten {
			w.work[k].seq = min(w.work[k].seq, seq-1)
		}
	}
	w.bounds = x.ix.bounds.takeChanged()
	return w, nil
}

// write writes a prepared window to every shard (in parallel), each with
// the position it reaches, and publishes the position.
func (x *Indexer) write(w *window) error {
	t0 := time.Now()
	err := x.parallel(w.work, func(k int, sw *shardWork) error {
		return x.ix.writeShard(k, sw.docs, sw.seq, w.attrs, w.bounds)
	})
	if err != nil {
		return err
	}
	docs, applied := 0, w.end
	for k := range w.work {
		docs += len(w.work[k].docs)
		applied = min(applied, w.work[k].seq)
	}
	x.ix.advance(applied)
	now := time.Now()
	x.lastWrite.Store(int64(now.Sub(t0)))
	scorchsnap.SetPaced(x.sparse())
	x.lastTook.Store(int64(now.Sub(w.start)))
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
// events upsert. Open runs in later are left unwritten (prepare).
func (x *Indexer) fold(ctx context.Context, k int, w *shardWork, later map[string]bool) error {
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
	// OnEvents sees each batch once: not those before the window's first
	// (a run read back from history has them), nor those a window that
	// failed to be written showed it already (the indexer starts over
	// from the applied position then).
	var windowFrom uint64
	if len(w.batches) > 0 {
		windowFrom = max(w.batches[0].Seq, x.observed[k]+1)
	}
	for _, st := range order {
		firstNew := len(st.batches) - newBatches[st]
		var fresh []engine.Event
		var t *touchedRun // nil: left to a later window
		if later[st.runID] && !st.closed {
			if _, ok := f.unwritten[st.runID]; !ok {
				f.unwritten[st.runID] = st.seqs[firstNew]
			}
		} else {
			delete(f.unwritten, st.runID)
			t = &touchedRun{st: st}
			w.touched = append(w.touched, t)
		}
		for i, data := range st.batches {
			if t == nil && i < firstNew {
				continue // left to a later window: only its new attributes now
			}
			events, err := decodeEvents(ctx, f.src, st.runID, data)
			if err != nil {
				x.log.Error("search indexer: skipping an undecodable history batch", "run", st.runID, "seq", st.seqs[i], "err", err)
				continue
			}
			if i >= firstNew {
				// Attributes register in stream order, whichever window
				// writes the run's document.
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
			if t != nil {
				t.events = append(t.events, events...)
			}
			if x.opts.OnEvents != nil && i >= firstNew && st.seqs[i] >= windowFrom {
				fresh = append(fresh, events...)
			}
		}
		if len(fresh) > 0 {
			var started *engine.Event
			if t != nil && len(t.events) > 0 && t.events[0].Type == engine.EventWorkflowStarted {
				started = &t.events[0]
			}
			x.opts.OnEvents(started, fresh)
		}
	}
	if len(w.batches) > 0 {
		x.observed[k] = max(x.observed[k], w.batches[len(w.batches)-1].Seq)
	}
	return nil
}

// parallel runs fn for every shard's work, concurrently, and returns
// their errors.
func (x *Indexer) parallel(work []shardWork, fn func(k int, w *shardWork) error) error {
	return x.ix.eachShard(func(k int, _ *shard) error { return fn(k, &work[k]) })
}
