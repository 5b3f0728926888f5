package engine

import (
	"sync"
)

// Hand-offs within one process (issue 21). A client and a worker that
// reach the same deployment from one process (the common shape of an
// application that starts its own workflows and waits for them) hand each
// other what would otherwise travel to the server and back, a round trip
// through several processes' goroutines each:
//
//   - eager start: a run started where a worker of its queue runs its
//     workflow type has its first workflow task run by that worker, while
//     the client claims the run, and stored with the start in one batch
//     (worker_eager_start.go). When that cannot be (a start with a signal,
//     tracing on, workflow code slower than firstTaskMax), the worker
//     takes the first task at once from the start batch the client
//     appended; the start's header says so (EagerStart), and the
//     dispatcher holds the wake task back: it publishes it only if no
//     later batch of the run comes within its guard delay
//     (dispatcher_start.go), so a worker that dies with the task costs
//     that delay, never the run.
//   - local close: a worker that appended a run's closing batch hands it
//     to the waits for the run's result in its process. The append's
//     acknowledgement is the store's word that the batch is stored, as
//     the shared reader's header would be a moment later; the wait uses
//     the batch only when it tells the whole outcome (closeTellsAll), and
//     screens it as it screens what it reads.
//
// Both are only shortcuts: what the server delivers still reaches a wait
// or a worker that the hand-off missed.

// deploymentScoped is what a Store needs for hand-offs (jetstream.Store
// has it): a name of the deployment it reaches, the same for every store
// on those data. "" turns hand-offs off.
type deploymentScoped interface {
	Deployment() string
}

// deploymentOf returns s's deployment name, "" if it has none.
func deploymentOf(s Store) string {
	if d, ok := s.(deploymentScoped); ok {
		return d.Deployment()
	}
	return ""
}

// localKey names a queue's workers or a run's waits in one deployment.
type localKey struct{ deployment, name string }

// maxLocalCloses bounds the close hand-offs kept for runs started here
// whose result nobody asked for yet (the oldest go first).
const maxLocalCloses = 8192

// localHub is the process's hand-offs.
type localHub struct {
	mu      sync.Mutex
	workers map[localKey][]*Worker // by queue
	runs    map[localKey]*localRun // runs whose close a wait here may take
	order   []localKey             // runs, oldest first (some may be gone)
}

var local = &localHub{workers: map[localKey][]*Worker{}, runs: map[localKey]*localRun{}}

// localRun is a run whose close may be handed to a wait here.
type localRun struct {
	close chan StoredBatch // its closing batch, once appended here
	// left is closed once the run may go on elsewhere: a worker of this
	// process started it (hot), and then its next step was left to the
	// server (a timer, a signal, another queue's activity...)
	left     chan struct{}
	leftOnce sync.Once
	hot      bool // a worker here took it (an eager start)
}

func newLocalRun(hot bool) *localRun {
	return &localRun{close: make(chan StoredBatch, 1), left: make(chan struct{}), hot: hot}
}

// addWorker offers w's workflow tasks to the clients of its process, until
// the returned func is called.
func (l *localHub) addWorker(deployment string, w *Worker) (remove func()) {
	k := localKey{deployment, w.queue}
	l.mu.Lock()
	l.workers[k] = append(l.workers[k], w)
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		ws := l.workers[k]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(l.workers, k)
		} else {
			l.workers[k] = ws
		}
	}
}

// starter returns a worker of queue that runs workflowType and has room
// for one more eager start, with that room taken (release it with
// endEagerStart, or hand the run over with takeStart); nil if none.
func (l *localHub) starter(deployment, queue, workflowType string) *Worker {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.workers[localKey{deployment, queue}] {
		if _, ok := w.reg.workflow(workflowType); ok && w.reserveEagerStart() {
			return w
		}
	}
	return nil
}

// expectClose keeps the close of runID, taken by a worker here, until a
// wait takes it (or maxLocalCloses later runs push it out).
func (l *localHub) expectClose(deployment, runID string) {
	k := localKey{deployment, runID}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.runs[k]; ok {
		return
	}
	for len(l.runs) >= maxLocalCloses && len(l.order) > 0 {
		delete(l.runs, l.order[0])
		l.order = l.order[1:]
	}
	l.runs[k] = newLocalRun(true)
	l.order = append(l.order, k)         // (a wait's own entry is not bounded: it goes with the wait)
	if len(l.order) > 2*maxLocalCloses { // mostly taken already: compact
		live := l.order[:0]
		for _, o := range l.order {
			if _, ok := l.runs[o]; ok {
				live = append(live, o)
			}
		}
		l.order = live
	}
}

// awaitClose returns where the close of runID arrives if a worker of this
// process appends it (hot: a worker here took the run); call forget when
// the wait ends (a run's result is waited for once: the hand-off goes
// with it). nil without a deployment.
func (l *localHub) awaitClose(deployment, runID string) (r *localRun, forget func()) {
	if deployment == "" {
		return nil, func() {}
	}
	k := localKey{deployment, runID}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.runs[k]
	if !ok {
		r = newLocalRun(false)
		l.runs[k] = r
	}
	return r, func() {
		l.mu.Lock()
		if l.runs[k] == r {
			delete(l.runs, k)
		}
		l.mu.Unlock()
	}
}

// left tells the waits here that runID's next step was left to the
// server: its close may come from another process.
func (l *localHub) left(deployment, runID string) {
	if deployment == "" {
		return
	}
	l.mu.Lock()
	r := l.runs[localKey{deployment, runID}]
	l.mu.Unlock()
	if r != nil {
		r.leftOnce.Do(func() { close(r.left) })
	}
}

// closed hands a run's stored closing batch to the wait expecting it, if
// any.
func (l *localHub) closed(deployment string, sb StoredBatch) {
	if deployment == "" {
		return
	}
	l.mu.Lock()
	r := l.runs[localKey{deployment, sb.Header.RunID}]
	l.mu.Unlock()
	if r != nil {
		select {
		case r.close <- sb:
		default:
		}
	}
}
