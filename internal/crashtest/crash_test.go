package crashtest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/crashtest/flow"
)

const (
	// numRuns is how many CrashFlow runs are in flight.
	numRuns = 200
	// hostAckWait is the host's redelivery delay for tasks a killed worker
	// held (jetstream.Options.AckWait): a run whose workflow or activity
	// task died with the host resumes that long after the task was
	// delivered. With the 30 s default the last runs complete about 30 s
	// after the last restart, so the test shortens it. (Safe here only
	// because CrashFlow's activities take at most 20 ms: the worker renews
	// a running activity's task every 10 s whatever the AckWait.)
	hostAckWait = 3 * time.Second
	// finalTimeout bounds the wait for every run to complete after the
	// last restart.
	finalTimeout = 90 * time.Second
)

// runNames returns the workflow ids crash-0000, crash-0001, …
func runNames(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("crash-%04d", i)
	}
	return ids
}

// kill is one SIGKILL of the host and the restart that followed.
type kill struct {
	name      string
	seen      string // progress observed when the kill was decided
	at        time.Time
	restartAt time.Time
	ready     time.Duration // restart until the new worker polled
}

// rig is a crash host with the test's connection to it and a live view of
// its history stream; kill and restart record each crash.
type rig struct {
	t          *testing.T
	began      time.Time
	buildTime  time.Duration
	firstReady time.Duration
	h          *host
	c          *conn
	obs        *observer
	kills      []*kill
}

// newRig builds crashhost, starts it on a fresh data directory and
// connects to it. Everything is stopped when the test ends.
func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, began: time.Now()}
	tmp := t.TempDir()
	bin := buildHost(t, tmp)
	r.buildTime = time.Since(r.began)
	r.h = &host{t: t, bin: bin, dataDir: filepath.Join(tmp, "data"), listen: freeListen(t), logDir: tmp, ackWait: hostAckWait}
	r.c = newConn()
	t.Cleanup(r.h.stop)
	t.Cleanup(r.c.drop)
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range r.h.logs {
				t.Log(tailFile(l, 30))
			}
		}
	})
	r.firstReady = r.h.start()
	r.connect()
	r.obs = newObserver()
	go r.obs.run(t.Context(), r.c)
	return r
}

func (r *rig) connect() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.c.open(ctx, r.h.url()); err != nil {
		r.t.Fatalf("connecting to crashhost incarnation %d: %v", r.h.n, err)
	}
}

// kill sends SIGKILL to the host and drops the test's connection.
func (r *rig) kill(name, seen string) *kill {
	r.t.Helper()
	k := &kill{name: name, seen: seen}
	k.at = r.h.kill()
	r.c.drop()
	r.kills = append(r.kills, k)
	r.t.Logf("kill %d (%s) at +%s: %s", len(r.kills), name, k.at.Sub(r.began).Round(time.Millisecond), seen)
	return k
}

// restart starts the host again on the same data and port, and reconnects.
func (r *rig) restart(k *kill) {
	r.t.Helper()
	k.restartAt = time.Now()
	k.ready = r.h.start()
	r.connect()
}

// checkLiveView checks that the live view of the history stream saw each
// of n runs start, run three activities, fire its timer and complete once.
func (r *rig) checkLiveView(n int) {
	r.t.Helper()
	p, _ := r.obs.snapshot()
	if p.started != n || p.acts != 3*n || p.timersStarted != n || p.timersFired != n || p.completed != n {
		r.t.Errorf("the live view of the history stream counted %v; want %d runs, %d activities, %d timers", p, n, 3*n, n)
	}
	r.obs.mu.Lock()
	defer r.obs.mu.Unlock()
	for _, e := range r.obs.bad {
		r.t.Errorf("live view: %s", e)
	}
}

// logHostErrors logs the errors each host incarnation logged (diagnostics;
// a killed process's peers log errors by design).
func (r *rig) logHostErrors() {
	for i, l := range r.h.logs {
		if errs := errorLines(l); len(errs) > 0 {
			r.t.Logf("host incarnation %d logged %d errors, e.g.:\n%s", i+1, len(errs), strings.Join(errs[:min(5, len(errs))], "\n"))
		}
	}
}

// TestCrashRecovery is issue #2's crash test: the process hosting the
// embedded JetStream server, the engine services and the worker is killed
// with SIGKILL at six different moments while 200 runs of three
// activities and a 2 s timer are in flight, and restarted on the same data
// each time. Every run must complete with the right result and a history
// without gap, duplicate or reordering; timers that fell due while the host
// was down must fire after the restart; no workflow id may get two runs.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: builds crashhost and kills it repeatedly (skipped under -short)")
	}
	r := newRig(t)
	h, obs := r.h, r.obs
	ids := runNames(numRuns)
	st := startRuns(t.Context(), r.c, ids)

	// 1. While the runs are being started: some starts are in flight, some
	// may have created the run record but not the first history batch.
	waitUntil(t, "half the starts acknowledged", 60*time.Second, func() bool { return st.acked.Load() >= numRuns/2 })
	r.restart(r.kill("during starts", fmt.Sprintf("%d/%d starts acknowledged", st.acked.Load(), numRuns)))
	select {
	case <-st.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("starts not done 60 s after the restart: %d/%d acknowledged", st.acked.Load(), numRuns)
	}
	if err := st.err(); err != nil {
		t.Fatal(err)
	}

	// 2. While activities run: every run is in its activity phase.
	p := waitFor(t, h, obs, "30% of the activities completed", 60*time.Second, func(p progress) bool {
		return p.acts >= 3*numRuns*3/10
	})
	r.restart(r.kill("activities in flight", p.String()))

	// 3. While many timers are pending; the host stays down until all of
	// them are due, so they fall due while nothing runs.
	// (On a machine so slow that a third are never pending at once, settle
	// for whatever is pending once nearly every timer has started.)
	p = waitFor(t, h, obs, "a third of the runs' timers pending", 60*time.Second, func(p progress) bool {
		return p.pendingTimers() >= numRuns/3 || (p.pendingTimers() > 0 && p.timersStarted >= numRuns*9/10)
	})
	k3 := r.kill("timers pending", p.String())
	time.Sleep(time.Until(p.latestFireAt.Add(300 * time.Millisecond))) // deliberate: let them fall due while down
	r.restart(k3)

	// 4. Right after that restart, while the overdue timers fire.
	firedTarget := p.timersFired + max(1, min(numRuns/10, p.pendingTimers()/3))
	p = waitFor(t, h, obs, "overdue timers firing after the restart", 30*time.Second, func(p progress) bool {
		return p.timersFired >= firedTarget
	})
	r.restart(r.kill("overdue timers firing", p.String()))

	// 5. As soon as the host answers again: recovery itself is interrupted.
	p, _ = obs.snapshot()
	r.restart(r.kill("just restarted", p.String()))

	// 6. While runs complete, if any are left.
	p, _ = obs.snapshot()
	if left := numRuns - p.completed; left > 1 {
		target := p.completed + left/2
		p = waitFor(t, h, obs, "half the remaining runs completed", 60*time.Second, func(p progress) bool { return p.completed >= target })
		if p.completed < numRuns {
			r.restart(r.kill("runs completing", p.String()))
		}
	}
	if len(r.kills) < 6 {
		t.Logf("no sixth kill: all %d runs completed first", numRuns)
	}

	last := r.kills[len(r.kills)-1].restartAt
	waitFor(t, h, obs, "every run completed", finalTimeout, func(p progress) bool { return p.completed >= numRuns })
	allDone := time.Since(last)

	// Check every run.
	histories, au := verifyRuns(t, r.c, ids)

	// Timers that fell due while the host was down (kill 3) fired after the
	// restart, and promptly.
	dueWhileDown, lateMax := 0, time.Duration(0)
	for _, id := range ids {
		var fireAt, firedAt time.Time
		for _, e := range histories[id] {
			switch a := e.Attrs.(type) {
			case *engine.TimerStarted:
				fireAt = a.FireAt
			case *engine.TimerFired:
				firedAt = e.Time
			}
		}
		if fireAt.Before(k3.at) || !fireAt.Before(k3.restartAt) {
			continue
		}
		dueWhileDown++
		if firedAt.Before(k3.restartAt) {
			t.Errorf("%s: timer due %s (while the host was down) fired at %s, before the restart at %s",
				id, fireAt.Format(time.StampMicro), firedAt.Format(time.StampMicro), k3.restartAt.Format(time.StampMicro))
		}
		lateMax = max(lateMax, firedAt.Sub(k3.restartAt))
	}
	if dueWhileDown == 0 {
		t.Errorf("no timer fell due while the host was down after kill 3: the test did not exercise what it must")
	}
	if lateMax > 30*time.Second {
		t.Errorf("timers that fell due while the host was down fired up to %s after the restart", lateMax)
	}

	// Summary.
	var b strings.Builder
	fmt.Fprintf(&b, "crash test: %d runs, %d kills, build %s, first start %s, total %s\n", numRuns, len(r.kills),
		r.buildTime.Round(time.Millisecond), r.firstReady.Round(time.Millisecond), time.Since(r.began).Round(time.Millisecond))
	for i, k := range r.kills {
		next := time.Now()
		if i+1 < len(r.kills) {
			next = r.kills[i+1].at
		}
		resumed, events := firstProgress(histories, k.restartAt, next)
		fmt.Fprintf(&b, "  kill %d %-22s down %6s, restart→ready %6s, restart→first event %6s, %4d events before the next kill; at kill: %s\n",
			i+1, k.name, k.restartAt.Sub(k.at).Round(time.Millisecond), k.ready.Round(time.Millisecond), fmtDur(resumed), events, k.seen)
	}
	fmt.Fprintf(&b, "  timers due while down (kill 3): %d, all fired after the restart, the last %s after it\n", dueWhileDown, lateMax.Round(time.Millisecond))
	fmt.Fprintf(&b, "  starts retried after a kill: %d (%d of them had been committed by the interrupted attempt)\n", st.retried.Load(), st.earlier.Load())
	fmt.Fprintf(&b, "  all runs completed %s after the last restart; %d history batches audited", allDone.Round(time.Millisecond), au.batches)
	t.Log(b.String())
	r.checkLiveView(numRuns)
	r.logHostErrors()
}

// firstProgress returns how long after from the first event was recorded,
// and how many events were recorded in [from, to).
func firstProgress(histories map[string][]engine.Event, from, to time.Time) (time.Duration, int) {
	var times []time.Time
	for _, events := range histories {
		for _, e := range events {
			if !e.Time.Before(from) && e.Time.Before(to) {
				times = append(times, e.Time)
			}
		}
	}
	if len(times) == 0 {
		return -1, 0
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	return times[0].Sub(from), len(times)
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

// starter starts every run, 8 at a time, retrying each start until it is
// acknowledged: across a kill, a retried start may find that its
// interrupted attempt had committed (ErrAlreadyStarted, with the
// reject-duplicate policy so a retry can never create a second run).
type starter struct {
	acked   atomic.Int64
	retried atomic.Int64
	earlier atomic.Int64
	done    chan struct{}

	mu   sync.Mutex
	errs []error
}

func startRuns(ctx context.Context, c *conn, ids []string) *starter {
	s := &starter{done: make(chan struct{})}
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := s.startOne(ctx, c, id); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
				}
			}
		}()
	}
	go func() {
		for _, id := range ids {
			work <- id
		}
		close(work)
		wg.Wait()
		close(s.done)
	}()
	return s
}

func (s *starter) startOne(ctx context.Context, c *conn, id string) error {
	var lastErr error
	for attempt := 1; ; attempt++ {
		sess, err := c.get(ctx)
		if err != nil {
			return fmt.Errorf("start %s: gave up after %d attempts: %v (last error: %v)", id, attempt-1, err, lastErr)
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = sess.client.Start(sctx, engine.StartOptions{ID: id, TaskQueue: flow.Queue, IDReusePolicy: engine.RejectDuplicate},
			flow.CrashFlow, flow.CrashInput{ID: id})
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, engine.ErrAlreadyStarted) && attempt > 1:
			s.earlier.Add(1)
		case errors.Is(err, engine.ErrAlreadyStarted):
			return fmt.Errorf("start %s: taken before the test started it: %w", id, err)
		default:
			lastErr = err
			if attempt == 1 {
				s.retried.Add(1)
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		s.acked.Add(1)
		return nil
	}
}

func (s *starter) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}
