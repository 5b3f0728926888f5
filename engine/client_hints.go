package engine

import (
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Hints (jetstream/history_hints.go): a wait may see its run's batches as
// they are published, a moment before the shared reader tells they are
// stored. A published closing batch whose digest is the stored close's
// Sum is that batch: the wait answers from it without reading the close
// back from the store (a round trip, while the close keeps the engine
// busy). A copy that matches nothing, or a close without a Sum, changes
// nothing: the wait reads as before.

// appendWatcher is what a Store needs to offer hints (jetstream.Store):
// behind tells whether a batch the store received is still on its way to
// fn.
type appendWatcher interface {
	WatchAppends(runID string, fn func(StoredBatch)) (stop func(), behind func() bool, err error)
}

// hintLate bounds how long a wait woken by a close gives a copy received
// before it to reach the wait (its callback's goroutine to run: under
// the race detector on a loaded machine, 2 ms were sometimes too few).
const hintLate = 20 * time.Millisecond

// maxHints bounds the closing copies a wait keeps (a run closes once; a
// few more are appends that lost a race, or a reset after the close).
const maxHints = 4

// waitHints are a wait's hints, started once the wait knows the run open
// (a wait for a closed run does not subscribe for nothing).
type waitHints struct {
	w     *closeWatch
	runID string
	h     *appendHints // nil until started, or if the store has none
	tried bool
	// local is where a worker of this process hands the run's close
	// (local.go); nil once taken
	local <-chan StoredBatch
}

// handed returns what closedHistory would from a close handed over by a
// worker of this process, when it tells the whole outcome; nil otherwise
// (the history is read).
func (l *waitHints) handed(sb StoredBatch) []StoredBatch {
	l.local = nil
	if !sb.Header.Closed || !closeTellsAll(sb) {
		return nil
	}
	return []StoredBatch{sb}
}

func (l *waitHints) start() {
	if !l.tried {
		l.tried = true
		l.h = l.w.watchAppends(l.runID)
	}
}

func (l *waitHints) stop() { l.h.stop() }

// appendHints keeps the closing batches seen published for one wait.
type appendHints struct {
	stopFn func()
	behind func() bool
	came   chan struct{} // a batch reached fn
	mu     sync.Mutex
	closes []hintCopy
}

type hintCopy struct {
	sum  string
	data []byte
}

// watchAppends starts hints for runID, or returns nil (the store has none,
// or refuses them here).
func (w *closeWatch) watchAppends(runID string) *appendHints {
	src, ok := w.store.(appendWatcher)
	if !ok {
		return nil
	}
	h := &appendHints{came: make(chan struct{}, 1)}
	stop, behind, err := src.WatchAppends(runID, func(b StoredBatch) {
		if b.Header.Closed {
			c := hintCopy{sum: BatchSum(b.Data), data: b.Data}
			h.mu.Lock()
			if len(h.closes) >= maxHints {
				h.closes = h.closes[1:]
			}
			h.closes = append(h.closes, c)
			h.mu.Unlock()
		}
		select {
		case h.came <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil
	}
	h.stopFn, h.behind = stop, behind
	return h
}

func (h *appendHints) stop() {
	if h != nil {
		h.stopFn()
	}
}

// copyOf returns the data of a copy whose digest is sum, or nil: one
// received and still on its way is waited for (at most hintLate).
func (h *appendHints) copyOf(sum string) []byte {
	if h == nil || sum == "" {
		return nil
	}
	late := time.NewTimer(hintLate)
	defer late.Stop()
	for {
		h.mu.Lock()
		for _, c := range h.closes {
			if c.sum == sum {
				h.mu.Unlock()
				return c.data
			}
		}
		h.mu.Unlock()
		if !h.behind() {
			return nil
		}
		select {
		case <-h.came:
		case <-late.C:
			return nil
		}
	}
}

// fromHint returns what closedHistory would, built from the close f read
// and a published copy of it, when the copy tells the whole outcome;
// nil otherwise.
func (w *closeWatch) fromHint(f *closeFollower, runID string, hints *appendHints) []StoredBatch {
	w.mu.Lock()
	read, ok := f.closed[runID]
	w.mu.Unlock()
	if !ok {
		return nil
	}
	data := hints.copyOf(read.Header.Sum)
	if data == nil {
		return nil
	}
	read.Data = data
	if !closeTellsAll(read) {
		return nil
	}
	return []StoredBatch{read}
}

// BatchSum is the digest a closing batch's header carries (BatchHeader.Sum).
func BatchSum(data []byte) string {
	d := sha256.Sum256(data)
	return base64.RawURLEncoding.EncodeToString(d[:])
}
