package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// echoOnSignal returns the payload of its first "go" signal.
func echoOnSignal(ctx engine.Context) (int, error) {
	var v int
	engine.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return v, nil
}

// historyConsumers counts the consumers on the history stream.
func historyConsumers(t *testing.T, h *harness) int {
	t.Helper()
	js, err := natsjs.New(h.store.Conn())
	must(err)
	st, err := js.Stream(h.ctx, jetstream.HistoryStream)
	must(err)
	info, err := st.Info(h.ctx)
	must(err)
	return info.State.Consumers
}

// Many concurrent GetResult calls of one client share one reader of
// history: the server holds one consumer for all of them, not one per
// wait, and each still gets its own run's result.
func TestGetResultWaitsShareOneReader(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Echo", echoOnSignal)) })
	const n = 40
	for i := range n {
		h.start(fmt.Sprintf("echo-%d", i), "q", "Echo", nil)
	}
	base := historyConsumers(t, h)
	var wg sync.WaitGroup
	got := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.result(fmt.Sprintf("echo-%d", i), &got[i])
		}()
	}
	// Give every wait time to set up whatever it sets up on the server.
	time.Sleep(500 * time.Millisecond)
	if c := historyConsumers(t, h); c > base+1 {
		t.Fatalf("%d concurrent waits hold %d consumers on the history stream (%d before): want one shared", n, c-base, base)
	}
	for i := range n {
		must(h.client.Signal(h.ctx, fmt.Sprintf("echo-%d", i), "", "go", 100+i))
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != 100+i {
			t.Fatalf("echo-%d: result %d, %v; want %d", i, got[i], errs[i], 100+i)
		}
	}
}

// A wait that starts after the run closed returns at once; the shared
// reader stops once no one waits.
func TestGetResultOfClosedRunIsImmediate(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Echo", echoOnSignal)) })
	h.start("done", "q", "Echo", nil)
	must(h.client.Signal(h.ctx, "done", "", "go", 7))
	var v int
	h.mustResult("done", &v)
	base := historyConsumers(t, h)
	// A new client: nothing is running for it yet.
	c := engine.NewClient(h.store, engine.ClientOptions{Identity: "late"})
	for range 3 {
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
		v = 0
		err := c.GetResult(ctx, "done", "", &v)
		cancel()
		if err != nil || v != 7 {
			t.Fatalf("result of a closed run: %d, %v; want 7 at once", v, err)
		}
	}
	jstest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if c := historyConsumers(t, h); c > base {
			return fmt.Errorf("%d consumers on the history stream after the last wait, %d before", c, base)
		}
		return nil
	})
}

// The shared reader losing its consumer on the server (as after a server
// restart) does not lose a close: the wait still returns the result.
func TestGetResultSurvivesLostReader(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Echo", echoOnSignal)) })
	h.start("lost", "q", "Echo", nil)
	js, err := natsjs.New(h.store.Conn())
	must(err)
	st, err := js.Stream(h.ctx, jetstream.HistoryStream)
	must(err)
	durables := map[string]bool{}
	for name := range st.ConsumerNames(h.ctx).Name() {
		durables[name] = true
	}
	done := make(chan error, 1)
	var v int
	go func() { done <- h.result("lost", &v) }()
	deleted := 0
	jstest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		for name := range st.ConsumerNames(h.ctx).Name() {
			if !durables[name] {
				must(st.DeleteConsumer(h.ctx, name))
				deleted++
			}
		}
		if deleted == 0 {
			return fmt.Errorf("no reader consumer appeared")
		}
		return nil
	})
	must(h.client.Signal(h.ctx, "lost", "", "go", 9))
	select {
	case err := <-done:
		if err != nil || v != 9 {
			t.Fatalf("result %d, %v; want 9", v, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no result 30 s after the close: the lost reader lost it")
	}
}

// BenchmarkConcurrentGetResult: 100 runs blocked on a signal, 100
// concurrent GetResult calls, then every run signalled; one op is the
// whole round; cpu-ms/result is the CPU of the round (signals and
// workflow tasks, the same in both, included) per result.
// "shared" is the client as built, "per-run" one history follower per
// wait (before shared waits).
func BenchmarkConcurrentGetResult(b *testing.B) {
	for _, mode := range []string{"shared", "per-run"} {
		b.Run(mode, func(b *testing.B) {
			store, _ := jstest.Start(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = engine.RunServices(ctx, store, quietLogger()) }()
			w := engine.NewWorker(store, "q", engine.WorkerOptions{Logger: quietLogger(), ShutdownTimeout: time.Second})
			must(w.RegisterWorkflowWithName("Echo", echoOnSignal))
			must(w.Start(ctx))
			defer w.Stop()
			c := engine.NewClient(store, engine.ClientOptions{Identity: "bench"})
			if mode == "per-run" {
				c = engine.WithoutSharedWaits(c)
			}
			const n = 100
			var cpu time.Duration
			b.ResetTimer()
			for round := range b.N {
				b.StopTimer()
				for i := range n {
					if _, err := c.Start(ctx, engine.StartOptions{ID: fmt.Sprintf("b-%d-%d", round, i), TaskQueue: "q"}, "Echo", nil); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				cpu0 := processCPUTime()
				var wg sync.WaitGroup
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var v int
						if err := c.GetResult(ctx, fmt.Sprintf("b-%d-%d", round, i), "", &v); err != nil || v != i {
							b.Errorf("result %d, %v", v, err)
						}
					}()
					if err := c.Signal(ctx, fmt.Sprintf("b-%d-%d", round, i), "", "go", i); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
				cpu += processCPUTime() - cpu0
			}
			// Server, services, worker and client are all in this process.
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N*n), "cpu-ms/result")
		})
	}
}

// processCPUTime is the CPU time this process used so far.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A wait that spans a restart of the server (its reader's consumer gone,
// the client reconnecting) still sees the run close afterwards.
func TestGetResultSurvivesServerRestart(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	listen := l.Addr().String()
	must(l.Close())
	opts := jetstream.Options{DataDir: dir, Listen: listen, Name: "restart", NoAuth: true}
	srv, err := jetstream.StartEmbedded(opts, nil)
	must(err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := jetstream.Connect(ctx, srv.ClientURL(), opts)
	must(err)
	defer nc.Close()
	cs, err := jetstream.Open(ctx, nc, opts)
	must(err)
	defer cs.Close()
	c := engine.NewClient(cs, engine.ClientOptions{Identity: "waiter"})
	// Started with no engine running: it closes only after the restart.
	_, err = c.Start(ctx, engine.StartOptions{ID: "across", TaskQueue: "q"}, "Quick", nil)
	must(err)
	done := make(chan error, 1)
	var v int
	go func() { done <- c.GetResult(ctx, "across", "", &v) }()
	js, err := natsjs.New(nc)
	must(err)
	jstest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		st, err := js.Stream(ctx, jetstream.HistoryStream)
		if err != nil {
			return err
		}
		if n := st.CachedInfo().State.Consumers; n == 0 {
			return fmt.Errorf("the wait's reader is not up yet")
		}
		return nil
	})
	srv.Shutdown()
	store, _ := jstest.StartIn(t, dir, opts)
	svcDone := make(chan struct{})
	go func() { defer close(svcDone); _ = engine.RunServices(ctx, store, quietLogger()) }()
	defer func() { cancel(); <-svcDone }()
	w := engine.NewWorker(store, "q", engine.WorkerOptions{Logger: quietLogger(), ShutdownTimeout: time.Second})
	must(w.RegisterWorkflowWithName("Quick", func(engine.Context) (int, error) { return 5, nil }))
	must(w.Start(ctx))
	defer w.Stop()
	select {
	case err := <-done:
		if err != nil || v != 5 {
			t.Fatalf("result across a restart: %d, %v; want 5", v, err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("no result 40 s after the restart")
	}
}

// staleOnce answers the first LastBatch as a replica that has not stored
// the run's history yet would.
type staleOnce struct {
	*jetstream.Store
	stale atomic.Bool
}

func (s *staleOnce) LastBatch(ctx context.Context, runID string) (engine.StoredBatch, error) {
	if s.stale.CompareAndSwap(true, false) {
		return engine.StoredBatch{}, engine.ErrNotFound
	}
	return s.Store.LastBatch(ctx, runID)
}

// A wait whose first read was stale (a close the shared reader, positioned
// after it, will never bring) still returns, on its recheck.
func TestGetResultRechecksAStaleRead(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Echo", echoOnSignal)) })
	h.start("stale", "q", "Echo", nil)
	must(h.client.Signal(h.ctx, "stale", "", "go", 3))
	h.mustResult("stale", nil)
	st := &staleOnce{Store: h.store}
	st.stale.Store(true)
	c := engine.NewClient(st, engine.ClientOptions{Identity: "stale"})
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	var v int
	if err := c.GetResult(ctx, "stale", "", &v); err != nil || v != 3 {
		t.Fatalf("result after a stale read: %d, %v; want 3", v, err)
	}
}

// historyReads counts a client's reads of history: whole histories and
// last batches.
type historyReads struct {
	*jetstream.Store
	whole, last atomic.Int64
}

func (s *historyReads) ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]engine.StoredBatch, error) {
	s.whole.Add(1)
	return s.Store.ReadHistory(ctx, runID, afterSeq)
}

func (s *historyReads) LastBatch(ctx context.Context, runID string) (engine.StoredBatch, error) {
	s.last.Add(1)
	return s.Store.LastBatch(ctx, runID)
}

// failAfterMarker marks its saga compensated, waits for a signal (so the
// marker is in an earlier batch than the close), then fails.
func failAfterMarker(ctx engine.Context) (int, error) {
	if err := engine.RecordMarker(ctx, engine.MarkerCompensated, "", 1); err != nil {
		return 0, err
	}
	engine.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return 0, errors.New("failed after compensating")
}

// The result of a completed run is in its closing batch: GetResult reads
// that batch alone (one direct get), not the whole history, both when the
// run closed before the call and when the call waits for the close. A run
// that failed still reads its whole history, for a compensation marked in
// an earlier batch.
func TestGetResultReadsOnlyTheClosingBatch(t *testing.T) {
	h := newHarness(t)
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Echo", echoOnSignal))
		must(w.RegisterWorkflowWithName("FailAfterMarker", failAfterMarker))
	})
	st := &historyReads{Store: h.store}
	c := engine.NewClient(st, engine.ClientOptions{Identity: "reads"})
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()

	h.start("closed-before", "q", "Echo", nil)
	must(h.client.Signal(h.ctx, "closed-before", "", "go", 7))
	h.mustResult("closed-before", nil)
	var v int
	if err := c.GetResult(ctx, "closed-before", "", &v); err != nil || v != 7 {
		t.Fatalf("result of a closed run: %d, %v; want 7", v, err)
	}
	if w, l := st.whole.Load(), st.last.Load(); w != 0 || l != 1 {
		t.Fatalf("GetResult of a closed run read %d whole histories and %d last batches, want 0 and 1", w, l)
	}

	h.start("closes-later", "q", "Echo", nil)
	st.whole.Store(0)
	st.last.Store(0)
	done := make(chan error, 1)
	go func() { done <- c.GetResult(ctx, "closes-later", "", &v) }()
	time.Sleep(200 * time.Millisecond) // the wait reads the open run first
	must(h.client.Signal(h.ctx, "closes-later", "", "go", 8))
	if err := <-done; err != nil || v != 8 {
		t.Fatalf("result of a run closing during the wait: %d, %v; want 8", v, err)
	}
	// the first read found the run open; the close is the copy the wait
	// saw published, which the stored batch's digest vouches for, or a
	// second read (TestGetResultWithoutHintsReadsTheClose)
	if w, l := st.whole.Load(), st.last.Load(); w != 0 || l < 1 || l > 2 {
		t.Fatalf("GetResult waiting for a close read %d whole histories and %d last batches, want 0 and 1 (2 if the copy came late)", w, l)
	}

	h.start("compensated", "q", "FailAfterMarker", nil)
	h.waitForEvent("compensated", engine.EventWorkflowTaskCompleted)
	must(h.client.Signal(h.ctx, "compensated", "", "go", 1))
	err := c.GetResult(ctx, "compensated", "", nil)
	var we *engine.WorkflowError
	if !errors.As(err, &we) || we.Status != engine.StatusCompensated || we.CloseStatus != engine.StatusFailed {
		t.Fatalf("result of a saga that failed after compensating: %v; want status compensated, closed failed", err)
	}
}
