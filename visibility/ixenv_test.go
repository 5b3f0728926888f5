package visibility_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/visibility"
)

// The indexer's tests run real workflows on an embedded JetStream server and
// index their real histories. Names here start with ix so that they cannot
// clash with other test files of the package.

const ixQueue = "vis"

func ixLogger() *slog.Logger {
	if os.Getenv("FOREMAN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
}

// ixEnv is an engine (store, services, a worker of the ix workflows) and a
// client.
type ixEnv struct {
	t      *testing.T
	ctx    context.Context
	store  *jetstream.Store
	client *engine.Client
}

func newIxEnv(t *testing.T) *ixEnv {
	t.Helper()
	store, _ := jstest.Start(t)
	return startIxEngine(t, store)
}

func startIxEngine(t *testing.T, store *jetstream.Store) *ixEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = engine.RunServices(ctx, store, ixLogger())
	}()
	w := engine.NewWorker(store, ixQueue, engine.WorkerOptions{Logger: ixLogger(), ShutdownTimeout: time.Second})
	for _, err := range []error{
		w.RegisterWorkflow(ixOrder), w.RegisterWorkflow(ixWaitApproval), w.RegisterWorkflow(ixWaitSignal),
		w.RegisterWorkflow(ixRetrying), w.RegisterWorkflow(ixSleeper), w.RegisterWorkflow(ixQuick),
		w.RegisterActivity(ixReserve), w.RegisterActivity(ixCharge), w.RegisterActivity(ixFlaky),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(); cancel(); <-done })
	return &ixEnv{t: t, ctx: ctx, store: store, client: engine.NewClient(store, engine.ClientOptions{Identity: "tester"})}
}

func (e *ixEnv) start(id string, wf any, in any) engine.Run {
	e.t.Helper()
	run, err := e.client.Start(e.ctx, engine.StartOptions{ID: id, TaskQueue: ixQueue}, wf, in)
	if err != nil {
		e.t.Fatalf("start %s: %v", id, err)
	}
	return run
}

// waitUntil polls cond (a description of what is awaited when it fails).
func (e *ixEnv) waitUntil(what string, cond func() error) {
	e.t.Helper()
	jstest.CheckFor(e.t, 30*time.Second, 10*time.Millisecond, func() error {
		if err := cond(); err != nil {
			return errors.New(what + ": " + err.Error())
		}
		return nil
	})
}

// openIndex opens an index in dir with an indexer running on e's store
// until the test ends; it returns when the indexer stopped.
func (e *ixEnv) openIndex(dir string, opts ...visibility.Option) (*visibility.Index, func()) {
	e.t.Helper()
	ix, err := visibility.OpenIndex(dir, ixLogger(), opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = visibility.NewIndexer(ix, e.store, visibility.IndexerOptions{Logger: ixLogger()}).Run(ctx)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			if err := ix.Close(); err != nil {
				e.t.Errorf("closing the index: %v", err)
			}
		}
	}
	e.t.Cleanup(stop)
	return ix, stop
}

// caughtUp waits until ix has applied everything in history now.
func (e *ixEnv) caughtUp(ix *visibility.Index) {
	e.t.Helper()
	last, err := e.store.LastHistorySeq(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	if err := ix.WaitForSeq(ctx, last); err != nil {
		e.t.Fatalf("index applied %d, history is at %d: %v", ix.AppliedSeq(), last, err)
	}
}

// allDocs reads every document of ix through Search, page by page, by run id.
func ixAllDocs(t *testing.T, ix *visibility.Index) map[string]visibility.Doc {
	t.Helper()
	out := map[string]visibility.Doc{}
	req := visibility.SearchRequest{Sort: []string{"run_id"}, Size: 7}
	for {
		res, err := ix.Search(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range res.Hits {
			if _, dup := out[d.RunID]; dup {
				t.Fatalf("run %s on two pages", d.RunID)
			}
			out[d.RunID] = d
		}
		if len(res.Next) == 0 {
			return out
		}
		req.After = res.Next
	}
}
