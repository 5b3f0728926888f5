package visibility

import (
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// errIndexDirGone: the index's directory was removed while it was open.
var errIndexDirGone = errors.New("the index directory was removed while the index was open")

// dirWatchEvery is how often an open index checks that its directory
// still exists.
const dirWatchEvery = 2 * time.Second

// dirWatch notices an index directory removed under a running engine (an
// operator's rm -rf): it says so once in the log, and lets Close give up
// waiting for a persist that can never happen instead of hanging shutdown.
type dirWatch struct {
	path    string
	removed atomic.Bool
	done    chan struct{}
	wg      sync.WaitGroup
}

func (w *dirWatch) start(path string, log *slog.Logger) {
	w.path, w.done = path, make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(dirWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				if w.gone() {
					log.Error("search index directory removed while the engine runs: searches answer from what is in memory, nothing new is persisted; restart the engine to rebuild the index from history",
						"file", w.path)
					return
				}
			}
		}
	}()
}

// gone reports whether the watched file is gone (sticky once seen).
func (w *dirWatch) gone() bool {
	if w.removed.Load() {
		return true
	}
	if w.path == "" {
		return false
	}
	if _, err := os.Stat(w.path); errors.Is(err, os.ErrNotExist) {
		w.removed.Store(true)
		return true
	}
	return false
}

func (w *dirWatch) stop() {
	if w.done == nil {
		return
	}
	close(w.done)
	w.wg.Wait()
}
