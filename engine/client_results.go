package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Waiting for results. Following one run's history takes a JetStream
// consumer per wait (created and deleted on the server, a few round trips
// and server work each), which made GetResult the most expensive call of a
// client starting many short runs. A client whose store can read the
// headers of all history instead runs one such reader, shared by all its
// waits: a wait registers its run, checks whether the run already closed,
// and otherwise sleeps until the reader sees the run's closing batch.

// historyHeads is what a Store needs for shared waits (jetstream.Store has
// it). Stores without it are followed per run, as before.
type historyHeads interface {
	// LastHistorySeq is the position of the newest history batch.
	LastHistorySeq(ctx context.Context) (uint64, error)
	// FollowHistoryHeaders calls fn with the headers of every batch
	// appended after afterSeq, in order, without gaps, until ctx ends or fn
	// fails.
	FollowHistoryHeaders(ctx context.Context, afterSeq uint64, fn func([]StoredBatch) error) error
}

// closeWatchLinger is how long the shared reader outlives its last wait: a
// client waiting for one run after another keeps it, an idle client stops
// it (and leaves no goroutine behind soon after its last call).
const closeWatchLinger = 500 * time.Millisecond

// closeWatch is a client's shared reader of history headers and the waits
// it wakes.
type closeWatch struct {
	src   historyHeads
	store Store
	// deployment names what store reaches: closes a worker of this
	// process appended are handed to the waits here (local.go)
	deployment string

	mu  sync.Mutex
	cur *closeFollower // nil when none runs
	// starts are where the runs this client started begin, until a wait
	// takes them (at most maxNotedStarts).
	starts map[string]uint64
}

const maxNotedStarts = 4096

// closeFollower is one life of the shared reader. Once ready, every batch
// appended after pos reaches its waiters; when it stops (done), waiters
// start over with the next one.
type closeFollower struct {
	ready chan struct{} // closed once pos is known (or err set)
	done  chan struct{} // closed when the reader stopped
	err   error         // why it could not start; set before ready closes
	pos   uint64
	stop  context.CancelFunc
	// The runs whose close it read after position coverFrom, the most
	// recent recentCloses of them (guarded by closeWatch.mu).
	coverFrom  uint64
	closed     map[string]StoredBatch // run id -> its close as read (no data)
	closedFIFO []closeSeen

	// Guarded by closeWatch.mu.
	waits map[string][]chan struct{} // by run id
	// every wakes its waits on every batch of the run, not only its close
	// (an update's wait for its completion: client_update.go).
	every map[string][]chan struct{}
	users int
	idle  *time.Timer
}

func newCloseWatch(store Store) *closeWatch {
	src, ok := store.(historyHeads)
	if !ok {
		return nil
	}
	return &closeWatch{src: src, store: store, deployment: deploymentOf(store)}
}

// acquire returns the running reader, starting one if none runs, once it
// is positioned; release it when done.
func (w *closeWatch) acquire(ctx context.Context) (*closeFollower, error) {
	w.mu.Lock()
	f := w.cur
	if f == nil {
		rctx, stop := context.WithCancel(context.Background())
		f = &closeFollower{ready: make(chan struct{}), done: make(chan struct{}), stop: stop, waits: map[string][]chan struct{}{},
			every: map[string][]chan struct{}{}}
		w.cur = f
		go w.follow(rctx, f)
	}
	f.users++
	if f.idle != nil {
		f.idle.Stop()
		f.idle = nil
	}
	w.mu.Unlock()
	select {
	case <-f.ready:
	case <-ctx.Done():
		w.release(f, "", nil)
		return nil, ctx.Err()
	}
	if f.err != nil {
		w.release(f, "", nil)
		return nil, f.err
	}
	return f, nil
}

// release ends a use of f (and the registration of ch for runID, if any);
// the last one stops f after closeWatchLinger.
func (w *closeWatch) release(f *closeFollower, runID string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch != nil {
		unregister(f.waits, runID, ch)
		unregister(f.every, runID, ch)
	}
	f.users--
	if f.users == 0 && w.cur == f {
		f.idle = time.AfterFunc(closeWatchLinger, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			if f.users == 0 && w.cur == f {
				w.cur = nil
				f.stop()
			}
		})
	}
}

// unregister removes ch from runID's waits in m.
func unregister(m map[string][]chan struct{}, runID string, ch chan struct{}) {
	chs := m[runID]
	for i, c := range chs {
		if c == ch {
			chs = append(chs[:i], chs[i+1:]...)
			break
		}
	}
	if len(chs) == 0 {
		delete(m, runID)
	} else {
		m[runID] = chs
	}
}

// register asks f to signal ch when runID's closing batch is appended.
// ahead tells that the run's close is still to come to ch: f knows every
// close after start, the run's first batch (when known, else 0), and the
// run's is not among them.
func (w *closeWatch) register(f *closeFollower, runID string, start uint64) (ch chan struct{}, ahead bool) {
	ch = make(chan struct{}, 1)
	w.mu.Lock()
	f.waits[runID] = append(f.waits[runID], ch)
	_, closed := f.closed[runID]
	ahead = start > 0 && start >= f.coverFrom && !closed
	w.mu.Unlock()
	return ch, ahead
}

// recentCloses bounds the closes a reader remembers.
const recentCloses = 8192

// sawClose records that f read b, the close of its run (w.mu held).
func (f *closeFollower) sawClose(b StoredBatch) {
	runID, seq := b.Header.RunID, b.Seq
	if len(f.closedFIFO) >= recentCloses {
		old := f.closedFIFO[0]
		if f.closed[old.runID].Seq == old.seq { // (not closed again since)
			delete(f.closed, old.runID)
		}
		f.closedFIFO = f.closedFIFO[1:]
		f.coverFrom = old.seq // closes up to it may be forgotten
	}
	f.closed[runID] = b
	f.closedFIFO = append(f.closedFIFO, closeSeen{runID, seq})
}

type closeSeen struct {
	runID string
	seq   uint64
}

// noteStart records where a run this client started begins: a wait for it
// with a reader that has not read past that needs no first read of the
// run (a direct get per GetResult).
func (w *closeWatch) noteStart(runID string, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.starts == nil || len(w.starts) >= maxNotedStarts {
		w.starts = map[string]uint64{} // those never waited for go
	}
	w.starts[runID] = seq
}

func (w *closeWatch) takeStart(runID string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	seq := w.starts[runID]
	delete(w.starts, runID)
	return seq
}

// follow positions f at the end of history and reads from there until it
// is stopped or fails; then it is no longer current.
func (w *closeWatch) follow(ctx context.Context, f *closeFollower) {
	defer close(f.done)
	defer func() {
		w.mu.Lock()
		if w.cur == f {
			w.cur = nil
		}
		w.mu.Unlock()
		f.stop()
	}()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	f.pos, f.err = w.src.LastHistorySeq(pctx)
	cancel()
	if f.err != nil {
		f.err = fmt.Errorf("waiting for results: %w", f.err)
	}
	f.coverFrom, f.closed = f.pos, map[string]StoredBatch{} // before ready: no wait registers earlier
	close(f.ready)
	if f.err != nil {
		return
	}
	_ = w.src.FollowHistoryHeaders(ctx, f.pos, func(bs []StoredBatch) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, b := range bs {
			for _, ch := range f.every[b.Header.RunID] {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			if !b.Header.Closed {
				continue
			}
			f.sawClose(b)
			for _, ch := range f.waits[b.Header.RunID] {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
		return nil
	})
}

// await returns what closedHistory returns once the run closed, waiting
// until it closes.
//
// A wait registers with a reader positioned at history position P before
// it reads the run's last batch: a close at or before P is in that read,
// a later one is delivered by the reader, either before the registration
// (and then the read sees it) or after (and then it wakes the wait). When
// a reader fails, its waits start over with a new one, positioned anew:
// no close goes unnoticed. A wait for a run this client started skips that
// read when the reader knows every close after the run's first batch and
// the run's is not among them: it is still to come, and the reader brings
// it (the read cost a direct get per GetResult).
func (w *closeWatch) await(ctx context.Context, runID string) ([]StoredBatch, error) {
	pause := 50 * time.Millisecond
	start := w.takeStart(runID)
	lr, forget := local.awaitClose(w.deployment, runID)
	defer forget()
	hints := &waitHints{w: w, runID: runID}
	defer hints.stop()
	if lr != nil {
		hints.local = lr.close
		if lr.hot {
			if bs, err, done := w.awaitHot(ctx, runID, lr, hints); done {
				return bs, err
			}
		}
	}
	if start > 0 {
		hints.start() // no first read: follow the copies from now on
	}
	for {
		f, err := w.acquire(ctx)
		if err != nil {
			return nil, err
		}
		ch, ahead := w.register(f, runID, start)
		bs, err := w.awaitWith(ctx, f, runID, ch, ahead, hints)
		w.release(f, runID, ch)
		if bs != nil || err != nil {
			return bs, err
		}
		// The reader stopped: not in a tight loop if it keeps failing.
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// localHotMax bounds how long a wait for a run a worker of this process
// runs (local.go) goes without the shared reader: should the run go on or
// end elsewhere unnoticed (an operator's terminate, a signal's task taken
// by another process while its activity runs here), its close is seen at
// most this late. Runs taken here mostly end well within it.
var localHotMax = 250 * time.Millisecond

// awaitHot waits for the close of a run a worker here took, by hand only,
// while its steps stay here (eager activities whose outcomes are reported
// here) and at most localHotMax: no reader of history headers runs for
// it, nor for a client whose runs all end so (a message per batch of
// every run, and the wake-ups, saved). done is false when the wait goes on
// with the reader.
func (w *closeWatch) awaitHot(ctx context.Context, runID string, r *localRun, hints *waitHints) (bs []StoredBatch, err error, done bool) {
	t := time.NewTimer(localHotMax)
	defer t.Stop()
	select {
	case sb := <-r.close:
		if bs := hints.handed(sb); bs != nil {
			return bs, nil, true
		}
		bs, err := closedHistory(ctx, w.store, runID, true)
		return bs, err, bs != nil || err != nil
	case <-r.left:
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err(), true
	}
	return nil, nil, false
}

// awaitWith waits with reader f; nil, nil when f stopped first.
//
// Besides the reader's wake-ups it asks again after 1 s, then ever less
// often: reads of a run's last batch may be answered by a replica that
// has not stored the close yet (direct gets on a clustered stream), and
// the reader, positioned after it, would not bring it.
func (w *closeWatch) awaitWith(ctx context.Context, f *closeFollower, runID string, ch chan struct{}, ahead bool, hints *waitHints) ([]StoredBatch, error) {
	woken := false
	recheck := time.NewTimer(closeRecheckFirst)
	defer recheck.Stop()
	every := closeRecheckFirst
	for {
		select {
		case sb := <-hints.local:
			if bs := hints.handed(sb); bs != nil {
				return bs, nil
			}
			woken = true
		default:
		}
		if woken {
			if bs := w.fromHint(f, runID, hints.h); bs != nil {
				return bs, nil
			}
		}
		if !ahead {
			bs, err := closedHistory(ctx, w.store, runID, woken)
			if bs != nil || err != nil {
				return bs, err
			}
		}
		ahead = false
		hints.start() // open: its close is still to come
		select {
		case <-ch:
			woken = true
		case sb := <-hints.local:
			if bs := hints.handed(sb); bs != nil {
				return bs, nil
			}
			woken = true
		case <-recheck.C:
			woken = false
			every = min(2*every, closeRecheckMax)
			recheck.Reset(every)
		case <-f.done:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// The rechecks of a wait: the first after closeRecheckFirst, then twice
// as long each time, up to closeRecheckMax.
const (
	closeRecheckFirst = time.Second
	closeRecheckMax   = 30 * time.Second
)

// closedHistory returns what a result needs of the run once it closed, or
// nil while the run is open (or has no history yet); closed says the
// caller knows it closed (a last batch not closed then is a stale read,
// and the history is read whole).
//
// Its last batch, read alone (one direct get), holds the event closing
// the run, and that says the whole outcome of a completed or continued
// run: its history, read whole, was most of the time a wait took once
// the run closed. A run that failed or was canceled also needs its
// earlier batches (a compensation marked in any of them changes its
// status), and so does one annotated after its close.
func closedHistory(ctx context.Context, s Store, runID string, closed bool) ([]StoredBatch, error) {
	last, err := s.LastBatch(ctx, runID)
	if errors.Is(err, ErrNotFound) && !closed {
		return nil, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err == nil && last.Header.Closed && closeTellsAll(last) {
		return []StoredBatch{last}, nil
	}
	if !closed && !last.Header.Closed {
		return nil, nil
	}
	return historyToClose(ctx, s, runID)
}

// closeTellsAll tells whether the closed batch holds the event closing
// the run and that event alone gives GetResult's answer.
func closeTellsAll(last StoredBatch) bool {
	b, err := DecodeBatch(last.Data)
	if err != nil {
		return false // the whole history's read reports it
	}
	for _, e := range b.Events {
		if o, ok := closeOutcome(e); ok {
			return o.next != "" || o.status == StatusCompleted
		}
	}
	return false
}

// historyToClose reads the run's batches up to and including the first
// closed one; nil if none is closed.
func historyToClose(ctx context.Context, s Store, runID string) ([]StoredBatch, error) {
	bs, err := s.ReadHistory(ctx, runID, 0)
	if err != nil {
		return nil, err
	}
	v, err := verifierOf(ctx, s)
	if err != nil {
		return nil, err
	}
	for i, b := range bs {
		if b.Header.Closed && !v.forgedClose(b) {
			return bs[:i+1], nil
		}
	}
	return nil, nil
}

// awaitOutcome calls fn with the events of the run GetResult needs, once
// it closed: the closing batch's alone when they tell its whole outcome
// (see closedHistory), else each event up to the one closing it, as
// FollowHistory gives them, through the shared reader.
func (c *Client) awaitOutcome(ctx context.Context, workflowID, runID string, fn func(Event) error) error {
	if runID == "" { // the current run (a given run id resolves to itself)
		rec, err := c.resolve(ctx, workflowID, runID)
		if err != nil {
			return err
		}
		runID = rec.RunID
	}
	bs, err := c.closes.await(ctx, runID)
	if err != nil {
		return err
	}
	v, err := verifierOf(ctx, c.store)
	if err != nil {
		return err
	}
	for _, sb := range bs {
		if err := v.eachEvent(sb, fn); err != nil {
			return err
		}
	}
	return nil
}

// eachEvent calls fn with each event of the batch, screened (opauth.go).
func (v *verifier) eachEvent(sb StoredBatch, fn func(Event) error) error {
	b, err := DecodeBatch(sb.Data)
	if err != nil {
		return err
	}
	v.screen(sb.Header.RunID, b)
	for _, e := range b.Events {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
