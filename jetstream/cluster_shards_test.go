package jetstream_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

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
func waitLeadersSpread(t *testing.T, st *jetstream.Store) {
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
