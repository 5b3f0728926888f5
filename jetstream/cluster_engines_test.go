package jetstream_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/visibility"
)

// Several engines (issue 20, scope 6): three engines, one per node, each
// running the services and its own search index, as three foreman-engine
// processes with --nats would. Under load one engine is stopped for good.
// What they share: the dispatcher is one durable consumer, so each history
// batch is derived by one engine (another after a failure: the derived
// tasks carry message ids, so a redo inside the duplicate window (30 s)
// stores nothing twice); search requests go to one engine of a queue group.
// What each does on its own: every engine loads and fires every timer (the
// task it publishes carries the timer's message id, so the three firings
// store one task, and a worker drops a late duplicate against history), and
// keeps its own index from the whole history stream.
func TestClusterSeveralEngines(t *testing.T) { severalEngines(t, 0) }

// The same with 3 history and task shards: the dispatcher is then one
// durable per shard, shared the same way, and each index follows the
// sourced FM_HISTORY, which holds every shard's batches.
func TestClusterSeveralEnginesSharded(t *testing.T) { severalEngines(t, 3) }

func severalEngines(t *testing.T, shards int) {
	r := newShardedLossRig(t, nil, shards)
	type instance struct {
		node *jetstream.Node
		ix   *visibility.Index
		stop func()
	}
	var engines []instance
	for i := range 3 {
		n := r.boot("engine", r.c.urls[i])
		if i == 0 {
			n = r.engine // the rig's engine runs its services already
		}
		ix, err := visibility.OpenIndex(filepath.Join(t.TempDir(), "index"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(r.ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = visibility.NewIndexer(ix, n.Store, visibility.IndexerOptions{Logger: clusterTestLogger()}).Run(ctx)
		}()
		stopServe, err := visibility.Serve(ix, n.Store)
		if err != nil {
			t.Fatal(err)
		}
		stopServices := func() {}
		if i > 0 {
			stopServices = r.runServices(n)
		}
		var once bool
		stop := func() {
			if once {
				return
			}
			once = true
			stopServe()
			stopServices()
			cancel()
			<-done
			_ = ix.Close()
		}
		t.Cleanup(stop)
		engines = append(engines, instance{node: n, ix: ix, stop: stop})
	}
	// Engine 1 dies under load: its connection goes first, as when the
	// process is killed, so what it held (history batches it was deriving,
	// fetched and not yet handled) comes back to the others only after
	// AckWait. The rig's engine 0 and engine 2 carry on.
	load := r.startLoad(3*time.Second, func() time.Time {
		at := time.Now()
		engines[1].node.Conn.Close()
		engines[1].stop()
		return at
	}, 4*time.Second)
	if reruns := r.checkCompleted(load); reruns != 0 {
		t.Errorf("%d activities ran twice: the engines dispatched them more than once", reruns)
	}

	// Each surviving engine's index catches up with the whole history.
	js, err := natsjs.New(r.client.Conn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(r.ctx, jetstream.HistoryStream)
	if err != nil {
		t.Fatal(err)
	}
	last := st.CachedInfo().State.LastSeq
	for i, e := range engines {
		if i == 1 {
			continue
		}
		wctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
		err := e.ix.WaitForSeq(wctx, last)
		cancel()
		if err != nil {
			t.Fatalf("engine %d's index did not reach history seq %d: %v (at %d)", i, last, err, e.ix.AppliedSeq())
		}
		// A sharded store's FM_HISTORY is sourced from the shards by the
		// server, which re-establishes the sourcing after a node loss on
		// its own time: the index may reach the position read above while
		// the copy still lacks some runs. It must get them all soon.
		jstest.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
			docs, err := e.ix.DocCount()
			if err != nil {
				return err
			}
			if docs < uint64(len(load.ids)) {
				return fmt.Errorf("engine %d's index has %d runs, want at least the %d started", i, docs, len(load.ids))
			}
			return nil
		})
	}
}
