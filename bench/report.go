package main

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"

	"github.com/foremanhq/foreman/jetstream"
)

// printTable prints one table per shape (deployed first), one column per
// sync mode, then what each figure measured and the notes.
func printTable(w io.Writer, cfg *config, rs []*result, notes []string) {
	find := func(shape, name, mode string, shards int) *result {
		for _, r := range rs {
			if r.Shape == shape && r.Name == name && r.Sync == mode && r.Shards == shards {
				return r
			}
		}
		return nil
	}
	fmt.Fprintf(w, "\nForeman benchmark: %d CPUs, %s %s/%s, medians of repetitions", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if cfg.quick {
		fmt.Fprint(w, " (QUICK: smoke-test scale, not meaningful)")
	}
	fmt.Fprintln(w)
	for _, shape := range cfg.shapes {
		shardCounts := []int{0}
		if shape == shapeCluster {
			shardCounts = clusterShards
		}
		fmt.Fprintf(w, "\n%s\n", shapeDesc(cfg, shape))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "metric\t")
		for _, mode := range cfg.syncModes {
			fmt.Fprintf(tw, "sync %s\t", mode)
		}
		fmt.Fprint(tw, "unit\ttarget (interval)\t\n")
		for _, m := range allMetrics {
			for _, shards := range shardCounts {
				printRow(tw, cfg, m, shards, func(mode string) *result { return find(shape, m.name, mode, shards) })
			}
		}
		tw.Flush()
	}
	printFootnotes(w, cfg, notes)
}

// printRow prints one metric's row (for one shard count in the cluster
// shape) if any mode measured it.
func printRow(tw io.Writer, cfg *config, m metric, shards int, find func(mode string) *result) {
	measured := false
	for _, mode := range cfg.syncModes {
		measured = measured || find(mode) != nil
	}
	if !measured {
		return
	}
	name := m.name
	if shards > 0 {
		name = fmt.Sprintf("%s shards=%d", m.name, shards)
	}
	fmt.Fprintf(tw, "%s\t", name)
	for _, mode := range cfg.syncModes {
		if r := find(mode); r != nil {
			fmt.Fprintf(tw, "%.4g\t", r.Value)
		} else {
			fmt.Fprint(tw, "-\t")
		}
	}
	verdict := ""
	if r := find(jetstream.SyncInterval); r != nil && m.ok != nil {
		verdict = "  MISS"
		if m.ok(r.Value) {
			verdict = "  ok"
		}
	}
	fmt.Fprintf(tw, "%s\t%s%s\t\n", m.unit, m.target, verdict)
}

// printFootnotes says what each figure measured, then the notes.
func printFootnotes(w io.Writer, cfg *config, notes []string) {
	fmt.Fprintln(w)
	if cfg.runs("latency") {
		fmt.Fprintf(w, "start/e2e: %d x %d runs of 3 sequential no-op activities, one at a time (after %d warm-up runs); close observed via %s (deployed: client.GetResult per run).\n",
			cfg.latencyReps, cfg.samples, cfg.warmup, observeDesc(cfg.observe))
	}
	if cfg.measures(shapeInProcess, "signal") {
		fmt.Fprintf(w, "signal: %d x %d signals, from the Signal call to the run's next workflow-task batch (which completes it) being observed.\n",
			cfg.latencyReps, cfg.signalSamples)
	}
	if cfg.runs("throughput") {
		fmt.Fprintf(w, "throughput: %d x %s (after %s warm-up), %d goroutines each starting a run and waiting for it to close; "+
			"cpu_per_wf_ms: CPU time of every process of the deployment (deployed: foreman-engine and the worker/client process) over the measured time / runs completed in it; "+
			"index_lag_p99_ms (deployed): the search API's lag (age of the oldest history batch not yet indexed) asked every %s meanwhile.\n",
			cfg.reps, cfg.duration, cfg.tpWarmup, cfg.concurrency, lagEvery)
	}
	if cfg.measures(shapeCluster, "cluster") {
		fmt.Fprintf(w, "cluster: as throughput (%d x %s after %s, %d goroutines), on the cluster shape, per shard count.\n",
			cfg.reps, cfg.duration, cfg.tpWarmup, cfg.concurrency)
	}
	if cfg.measures(shapeInProcess, "rss") {
		fmt.Fprintf(w, "rss: %d x %d runs blocked on AwaitApproval; VmRSS of the worker process alone (a child process, after runtime.GC) once all recorded ApprovalRequested.\n",
			cfg.reps, cfg.blocked)
	}
	if cfg.runs("update") {
		fmt.Fprintf(w, "update: %d x %d updates, one at a time, to one run, from the Update call (wait for completed) to its result; the handler validates and returns at once "+
			"(deployed: the client's updates go through the engine's action service, as an authenticated SDK client's do). Measured on a shared 2-core machine.\n",
			cfg.latencyReps, cfg.signalSamples)
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

// shapeDesc says which processes and connections a shape's figures used.
func shapeDesc(cfg *config, shape string) string {
	if shape == shapeCluster {
		return clusterDesc()
	}
	if shape == shapeDeployed {
		conns := "the worker and the client each on their own NATS connection"
		if cfg.sharedConn {
			conns = "the worker and the client sharing one NATS connection"
		}
		return "DEPLOYED: process 1 is foreman-engine (built from ./cmd/engine; embedded nats-server, services, search indexer and API; " +
			"only --data, --listen, --sync and --log-level set); process 2 is this one with " + conns +
			" over loopback TCP, using the public SDK only (NewWorker, Client.Start, Client.GetResult)"
	}
	conn := "services, worker and client each on their own NATS connection"
	if cfg.sharedConn {
		conn = "services, worker and client sharing one NATS connection"
	}
	if cfg.tcp {
		conn += " over loopback TCP"
	} else {
		conn += " in process (nats.InProcessServer)"
	}
	return "IN-PROCESS: one process (embedded nats-server, engine services, worker, client; no search indexer), " + conn +
		"; rss and index use a child process of their own"
}

func observeDesc(o string) string {
	if o == observeGetResult {
		return "client.GetResult per run"
	}
	return "one durable history consumer (Store.ConsumeHistory) for all runs"
}
