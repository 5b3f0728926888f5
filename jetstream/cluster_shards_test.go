package jetstream_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// Sharded history on the 3-node cluster (issue 20, scope 5): three
// history and three task shards, R3. Their leaders end up on three
// different nodes (the engine moves them: by chance only 2 times in 9),
// runs land on every shard, and a node killed under load loses nothing:
// every acknowledged start completes, each history is whole, without gap
// or duplicate, and no activity completion is lost (checkCompleted).
func TestClusterShardsLoseANode(t *testing.T) {
	r := newShardedLossRig(t, nil, 3)
	if got := r.engine.Store.Shards(); got != 3 {
		t.Fatalf("the engine's store has %d shards, want 3", got)
	}
	waitLeadersSpread(t, r.engine.Store)
	r.underLoad(func() time.Time {
		leaders, err := r.engine.Store.ShardLeaders(r.ctx)
		if err != nil {
			t.Fatal(err)
		}
		victim := r.c.streamLeader("FM_HISTORY_1")
		if victim < 0 {
			t.Fatalf("no node leads FM_HISTORY_1 (leaders %v)", leaders)
		}
		t.Logf("shard leaders %v; killing n%d, leader of FM_HISTORY_1 (engine on n%d, worker on n%d, client on n%d)",
			leaders, victim, r.c.nodeOf(r.engine), r.c.nodeOf(r.worker), r.c.nodeOf(r.client))
		at := time.Now()
		r.c.kill(victim)
		return at
	})
	// Every shard carried runs.
	js, err := natsjs.New(r.client.Conn)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		st, err := js.Stream(r.ctx, fmt.Sprintf("FM_HISTORY_%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if st.CachedInfo().State.Msgs == 0 {
			t.Errorf("FM_HISTORY_%d holds no batch: runs did not spread", i)
		}
	}
}

// The leaders of a sharded store's streams spread over the cluster's
// nodes without a node loss: the quick check, run by make test.
func TestClusterShardLeadersSpread(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster formation takes seconds")
	}
	urls := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node, err := jetstream.Boot(ctx, jetstream.Options{NATSURL: urls[0], Replicas: 3, Shards: 3, Name: "shards-engine"}, clusterTestLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	waitLeadersSpread(t, node.Store)
}

// waitLeadersSpread waits until the history shards have three different
// leaders.
func waitLeadersSpread(t testing.TB, st *jetstream.Store) {
	t.Helper()
	jstest.CheckFor(t, 45*time.Second, 250*time.Millisecond, func() error {
		leaders, err := st.ShardLeaders(context.Background())
		if err != nil {
			return err
		}
		distinct := slices.Compact(slices.Sorted(slices.Values(leaders)))
		if len(distinct) != 3 || distinct[0] == "" {
			return fmt.Errorf("history shard leaders %v: not on three nodes", leaders)
		}
		return nil
	})
}

// BenchmarkClusterAppend measures what one history append costs on the
// in-process 3-node R3 cluster, with 1 and 3 shards (leaders spread):
// appends/s from 64 concurrent appenders, each on its own runs, and the
// CPU of the whole process (the three servers and the appenders) per
// append. The README's scaling model uses it:
//
//	go test ./jetstream -run - -bench ClusterAppend -benchtime 3s
func BenchmarkClusterAppend(b *testing.B) {
	for _, shards := range []int{1, 3} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			c := newTestCluster(b, 3)
			ctx := context.Background()
			node, err := jetstream.Boot(ctx, jetstream.Options{NATSURL: c.urls[0], Replicas: 3, Shards: shards, Name: "bench-append"}, clusterTestLogger())
			if err != nil {
				b.Fatal(err)
			}
			defer node.Close()
			if shards > 1 {
				waitLeadersSpread(b, node.Store)
			}
			var next atomic.Int64
			cpu0 := processCPU()
			b.ResetTimer()
			b.SetParallelism(32) // 64 appenders on 2 cores
			t0 := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				run := fmt.Sprintf("bench-%d", next.Add(1))
				var seq uint64
				ev := int64(0)
				for pb.Next() {
					ev++
					s, err := node.Store.AppendHistory(ctx, engine.BatchHeader{RunID: run, WorkflowID: run, FirstEventID: ev, LastEventID: ev}, []byte("batch"), seq, "")
					if err != nil {
						b.Error(err)
						return
					}
					seq = s
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "appends/s")
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/append")
		})
	}
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
