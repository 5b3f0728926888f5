package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/syncbuf"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/visibility"
)

// FAILURE-MODES #14: the engine is killed (kill -9) while it indexes under
// load. After a restart the index must equal one rebuilt from scratch: the
// same documents with the same field values — nothing missed, nothing
// applied twice.

const killQueue = "killtest"

type killIn struct {
	N      int    `json:"n"`
	Signal bool   `json:"signal,omitempty"`
	Note   string `json:"note"`
}

// killFlow makes a history of several batches: attributes, status and
// progress, two activities, and for some runs a signal.
func killFlow(ctx engine.Context, in killIn) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 20 * time.Second})
	if err := engine.UpsertSearchAttributes(ctx, map[string]engine.SearchAttribute{
		"Batch": engine.Int(int64(in.N % 7)), "Note": engine.Text(in.Note)}); err != nil {
		return "", err
	}
	engine.SetStatus(ctx, "step one")
	if err := engine.ExecuteActivity(ctx, killStep, in).Get(ctx, nil); err != nil {
		return "", err
	}
	engine.SetProgress(ctx, 1, 2)
	if in.Signal {
		engine.SetStatus(ctx, "waiting for go")
		engine.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	}
	if err := engine.ExecuteActivity(ctx, killStep, in).Get(ctx, nil); err != nil {
		return "", err
	}
	engine.SetProgress(ctx, 2, 2)
	engine.SetStatus(ctx, "done")
	return fmt.Sprintf("ok-%d", in.N), nil
}

func killStep(ctx context.Context, in killIn) error { return nil }

// engineProc is a running foreman-engine binary.
type engineProc struct {
	cmd  *exec.Cmd
	logs *syncbuf.Buffer
}

func startEngine(t *testing.T, bin, data, addr string, extra ...string) *engineProc {
	t.Helper()
	p := &engineProc{logs: &syncbuf.Buffer{}}
	p.cmd = exec.Command(bin, append([]string{"--data", data, "--listen", addr, "--log-level", "warn"}, extra...)...)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	return p
}

// connectStore connects to the engine at addr (retrying while it starts).
func connectStore(t *testing.T, ctx context.Context, addr string) *jetstream.Store {
	t.Helper()
	nc, err := jetstream.Connect(ctx, "nats://"+addr, jetstream.Options{Name: "killtest"})
	for err != nil {
		if ctx.Err() != nil {
			t.Fatalf("engine never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
		nc, err = jetstream.Connect(ctx, "nats://"+addr, jetstream.Options{Name: "killtest"})
	}
	t.Cleanup(nc.Close)
	st, err := jetstream.Open(ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// searchAll reads every document through the search API, page by page.
func searchAll(ctx context.Context, search func(context.Context, visibility.SearchRequest) (visibility.SearchResult, error)) (map[string]visibility.Doc, error) {
	out := map[string]visibility.Doc{}
	req := visibility.SearchRequest{Sort: []string{"run_id"}, Size: 500}
	for {
		res, err := search(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, d := range res.Hits {
			out[d.RunID] = d
		}
		if len(res.Next) == 0 {
			return out, nil
		}
		req.After = res.Next
	}
}

func TestIndexSurvivesKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the engine binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "foreman-engine")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	addr := "127.0.0.1:" + strconv.Itoa(jstest.FreePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	eng := startEngine(t, bin, data, addr)
	engines := []*engineProc{eng} // every process's logs, for a failure
	store := connectStore(t, ctx, addr)
	w := engine.NewWorker(store, killQueue, engine.WorkerOptions{Logger: quiet(), ShutdownTimeout: time.Second})
	if err := w.RegisterWorkflow(killFlow); err != nil {
		t.Fatal(err)
	}
	if err := w.RegisterActivity(killStep); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	client := engine.NewClient(store, engine.ClientOptions{Identity: "loader"})
	search := visibility.NewClient(store)

	// Load: starters keep starting runs (a fifth wait for a signal, sent
	// by the next starter) until told to stop; failures while the engine
	// is down are expected and retried.
	var started sync.Map // workflow id -> signal expected
	var next atomic.Int64
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	for range 6 {
		load.Add(1)
		go func() {
			defer load.Done()
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				n := int(next.Add(1))
				id := fmt.Sprintf("kill-%05d", n)
				in := killIn{N: n, Signal: n%5 == 0, Note: fmt.Sprintf("note %d of the kill test", n)}
				// Calls in flight when the engine dies get no answer: bound them.
				c, cancel := context.WithTimeout(ctx, 3*time.Second)
				_, err := client.Start(c, engine.StartOptions{ID: id, TaskQueue: killQueue}, killFlow, in)
				if err == nil {
					started.Store(id, in.Signal)
					if n%5 == 1 && n > 5 {
						_ = client.Signal(c, fmt.Sprintf("kill-%05d", n-1), "", "go", nil)
					}
				}
				cancel()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}

	// applied reads the engine's index position (0 while it is down).
	applied := func() uint64 {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		lag, err := search.Lag(c)
		if err != nil {
			return 0
		}
		return lag.AppliedSeq
	}
	// Kill twice, each time once the index has moved on under load.
	for round := range 2 {
		base := applied()
		for applied() < base+300 {
			if ctx.Err() != nil {
				t.Fatalf("the index did not move under load\n%s", eng.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		before := applied()
		if err := eng.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = eng.cmd.Wait()
		eng = startEngine(t, bin, data, addr)
		engines = append(engines, eng)
		after := applied()
		for after == 0 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			after = applied()
		}
		// Batches searchable but not yet persisted when killed are applied
		// again after the restart, from the position saved with the rest.
		t.Logf("round %d: killed at applied seq %d; restarted at %d", round+1, before, after)
	}
	time.Sleep(300 * time.Millisecond) // some load on the restarted engine
	close(stopLoad)
	load.Wait()

	// Let every run finish: release the signal waiters (a signal lost while
	// the engine was down is sent again; a second one is harmless), wait
	// for every result, then for history to stop growing.
	started.Range(func(k, v any) bool {
		for v.(bool) {
			c, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := client.Signal(c, k.(string), "", "go", nil)
			cancel()
			if err == nil || errors.Is(err, engine.ErrRunClosed) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("signal %s: %v", k, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return true
	})
	runs := 0
	started.Range(func(k, _ any) bool {
		runs++
		if err := client.GetResult(ctx, k.(string), "", nil); err != nil {
			t.Fatalf("%s: %v\nits history:\n%s\n%s", k, err, historyDump(client, k.(string)), eng.logs.String())
		}
		return true
	})
	last := quiescentSeq(t, ctx, store)

	// The restarted engine's index catches up and holds what a scratch
	// rebuild of the same history holds.
	c, cancelWait := context.WithTimeout(ctx, 60*time.Second)
	got, err := search.Search(c, visibility.SearchRequest{Query: "type:killFlow", WaitForSeq: last, Size: 1})
	cancelWait()
	if err != nil {
		t.Fatalf("waiting for the index to reach %d: %v\n%s", last, err, eng.logs.String())
	}
	if got.Total < uint64(runs) {
		t.Fatalf("index holds %d runs, %d were started", got.Total, runs)
	}
	scratch, err := visibility.OpenIndex(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := visibility.NewIndexer(scratch, store, visibility.IndexerOptions{}).CatchUp(ctx, last); err != nil {
		t.Fatal(err)
	}
	fromEngine, err := searchAll(ctx, search.Search)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err := searchAll(ctx, func(ctx context.Context, req visibility.SearchRequest) (visibility.SearchResult, error) {
		res, err := scratch.Search(ctx, req)
		if err != nil {
			return visibility.SearchResult{}, err
		}
		return *res, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fromEngine) != len(rebuilt) || !reflect.DeepEqual(fromEngine, rebuilt) {
		diff := 0
		for id, d := range rebuilt {
			if !reflect.DeepEqual(fromEngine[id], d) && diff < 3 {
				diff++
				t.Errorf("run %s:\nengine  %+v\nrebuilt %+v", id, fromEngine[id], d)
			}
		}
		t.Fatalf("the engine's index (%d docs) differs from a rebuild (%d docs)", len(fromEngine), len(rebuilt))
	}
	scratchFP, err := scratch.Fingerprints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer scratch.Close()
	t.Logf("%d runs, history up to seq %d, identical documents", len(rebuilt), last)

	// Every indexed value too: stop the engine, open its index directly.
	w.Stop()
	if err := eng.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := eng.cmd.Wait(); err != nil {
		t.Fatalf("engine exit: %v\n%s", err, eng.logs.String())
	}
	checkIndex := func(what string) {
		t.Helper()
		ix, err := visibility.OpenIndex(filepath.Join(data, "index"), quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer ix.Close()
		if ix.AppliedSeq() != last {
			t.Fatalf("%s: the index stopped at %d, history is at %d", what, ix.AppliedSeq(), last)
		}
		fp, err := ix.Fingerprints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fp, scratchFP) {
			reportFieldDiffs(t, ctx, ix, scratch, fp, scratchFP)
			for i, e := range engines {
				t.Logf("engine process %d logs:\n%s", i+1, e.logs.String())
			}
			t.Fatalf("%s: indexed values differ from a rebuild's (%d and %d runs)", what, len(fp), len(scratchFP))
		}
	}
	checkIndex("after kills")

	// `foreman-engine reindex` rebuilds the same index.
	out, err := exec.Command(bin, "reindex", "--data", data, "--listen", addr).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("reindexed")) {
		t.Fatalf("reindex: %v\n%s", err, out)
	}
	checkIndex("after reindex")
}

// reportFieldDiffs names the runs whose indexed values differ between got
// and want (by fingerprint) and, for a few of them, the fields that differ
// and their terms on either side.
func reportFieldDiffs(t *testing.T, ctx context.Context, got, want *visibility.Index, gotFP, wantFP map[string]string) {
	t.Helper()
	var runs []string
	for id, fp := range wantFP {
		if gotFP[id] != fp {
			runs = append(runs, id)
		}
	}
	for id := range gotFP {
		if _, ok := wantFP[id]; !ok {
			runs = append(runs, id)
		}
	}
	sort.Strings(runs)
	t.Errorf("%d runs' indexed values differ: %v", len(runs), runs[:min(len(runs), 20)])
	for _, id := range runs[:min(len(runs), 3)] {
		g, err := got.DocTerms(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		w, err := want.DocTerms(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Sorted(maps.Keys(mergeKeys(g, w))) {
			if !reflect.DeepEqual(g[f], w[f]) {
				t.Errorf("run %s field %s:\nindexed %q\nrebuilt %q", id, f, g[f], w[f])
			}
		}
	}
}

func mergeKeys(a, b map[string][]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// quiescentSeq waits until history has not grown for a second and returns
// its last position.
func quiescentSeq(t *testing.T, ctx context.Context, store *jetstream.Store) uint64 {
	t.Helper()
	last, since := uint64(0), time.Now()
	for time.Since(since) < time.Second {
		seq, err := store.LastHistorySeq(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if seq != last {
			last, since = seq, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
