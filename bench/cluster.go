package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// The cluster shape (issue 20, scope 5): throughput of ThreeActs on an
// in-process 3-node NATS cluster with R3 streams, once with the history
// and tasks in one stream each (1 shard) and once spread over 3 shards,
// whose stream leaders the store places on three different nodes. The
// services (dispatcher, timers) dial node 0, the worker node 1 and the
// client node 2, as three processes on three machines would; here all
// three servers share this machine's cores, so the figure says what the
// per-stream leader work costs, not what three machines give.

const shapeCluster = "cluster"

// clusterShards are the shard counts the cluster shape measures.
var clusterShards = []int{1, 3}

// clusterNodes is an in-process 3-node JetStream cluster.
type clusterNodes struct {
	srv  []*server.Server
	urls []string
}

func startClusterNodes(dir, mode string) (*clusterNodes, error) {
	const n = 3
	ports := make([]int, 2*n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	var routes []*url.URL
	for i := range n {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", ports[n+i])})
	}
	c := &clusterNodes{}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: ports[i], NoSigs: true, NoLog: true,
			JetStream: true, StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i)), SyncAlways: mode == jetstream.SyncAlways,
			MaxPayload: jetstream.MaxPayload,
			Cluster:    server.ClusterOpts{Name: "foreman-bench", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:     routes,
		}
		s, err := server.NewServer(o)
		if err != nil {
			c.shutdown()
			return nil, fmt.Errorf("cluster node n%d: %w", i, err)
		}
		go s.Start()
		c.srv = append(c.srv, s)
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	for i, s := range c.srv {
		if !s.ReadyForConnections(20 * time.Second) {
			c.shutdown()
			return nil, fmt.Errorf("cluster node n%d did not start", i)
		}
	}
	// R3 streams need the meta leader to see every peer current.
	deadline := time.Now().Add(30 * time.Second)
	for !jstest.MetaPeersCurrent(c.srv) {
		if time.Now().After(deadline) {
			c.shutdown()
			return nil, errors.New("the cluster's meta leader does not see every node")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, nil
}

func (c *clusterNodes) shutdown() {
	for _, s := range c.srv {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// startClusterEnv starts a cluster and the deployment for one sync mode
// and shard count.
func startClusterEnv(parent context.Context, cfg *config, mode string, shards int) (_ *env, err error) {
	e := &env{shape: shapeCluster, mode: mode, cfg: cfg, log: benchLogger(cfg.verbose), bgErr: make(chan error, 4)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = dataDir(cfg, fmt.Sprintf("cluster-%s-%dshards", mode, shards)); err != nil {
		return e, err
	}
	if e.cluster, err = startClusterNodes(e.dir, mode); err != nil {
		return e, err
	}
	ctx, cancel := context.WithCancel(parent)
	e.cancel = cancel
	for i, role := range benchRoles {
		o := jetstream.Options{NATSURL: e.cluster.urls[i], Replicas: 3, Shards: shards, Sync: mode}
		if err := e.openStore(ctx, o, role, func(ctx context.Context, o jetstream.Options) (*nats.Conn, error) {
			return jetstream.Connect(ctx, o.NATSURL, o)
		}); err != nil {
			return e, err
		}
	}
	if err := e.waitLeadersSpread(ctx, shards); err != nil {
		return e, err
	}
	svcStore, wkStore, clStore := e.stores[0], e.stores[1], e.stores[2]
	e.goBackground(func() error { return engine.RunServices(ctx, svcStore, e.log) })
	e.obs = newObserver()
	e.goBackground(func() error { return clStore.ConsumeHistory(ctx, "bench-observer", e.obs.handle) })
	return e, e.startApp(ctx, wkStore, clStore, nil) // the cluster shape measures without metrics
}

// waitLeadersSpread waits until the history shards have as many different
// leaders as there are shards (the store moves them there on open).
func (e *env) waitLeadersSpread(ctx context.Context, shards int) error {
	deadline := time.Now().Add(45 * time.Second)
	for {
		leaders, err := e.stores[0].ShardLeaders(ctx)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, l := range leaders {
			if l != "" {
				seen[l] = true
			}
		}
		if len(seen) == shards {
			e.logf("  %d shard(s), history stream leaders %s", shards, strings.Join(leaders, " "))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("history shard leaders %v: not spread over %d nodes", leaders, shards)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// runCluster measures the cluster shape in one sync mode, for each shard
// count.
func runCluster(ctx context.Context, cfg *config, mode string) (out []*result, notes []string, err error) {
	for _, shards := range clusterShards {
		e, err := startClusterEnv(ctx, cfg, mode, shards)
		if err != nil {
			return out, notes, fmt.Errorf("%d shard(s): %w", shards, err)
		}
		r := &result{Name: "cluster_throughput_3act_wf_per_s", Unit: "wf/s", Sync: mode, Shape: shapeCluster, Shards: shards}
		cpu := &result{Name: "cluster_cpu_per_wf_ms", Unit: "ms", Sync: mode, Shape: shapeCluster, Shards: shards}
		for rep := range cfg.reps {
			t0 := time.Now()
			vals, err := e.throughputRep(ctx, rep)
			if err == nil {
				err = e.failed()
			}
			if err != nil {
				notes = append(notes, e.notes...)
				e.close()
				return out, notes, fmt.Errorf("%d shard(s), repetition %d: %w", shards, rep+1, err)
			}
			r.reps = append(r.reps, vals["throughput_3act_wf_per_s"])
			r.Value = median(r.reps)
			cpu.reps = append(cpu.reps, vals["cpu_per_wf_ms"])
			cpu.Value = median(cpu.reps)
			e.logf("  cluster, %d shard(s), rep %d/%d (%4.1fs): %.4g wf/s, %.3g ms CPU per run (the three servers, services, worker and client)",
				shards, rep+1, cfg.reps, time.Since(t0).Seconds(), r.reps[rep], cpu.reps[rep])
		}
		notes = append(notes, e.notes...)
		e.close()
		out = append(out, r, cpu)
	}
	return out, notes, nil
}

// clusterDesc heads the cluster shape's table.
func clusterDesc() string {
	return "CLUSTER: one process; an in-process 3-node NATS cluster (R3 streams, three servers sharing this machine's cores), " +
		"services on node 0, worker on node 1, client on node 2, each its own connection over loopback TCP; " +
		"history and tasks in 1 stream each, then spread over 3 shards with their leaders on three nodes"
}
