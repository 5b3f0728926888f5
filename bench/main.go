// Command foreman-bench measures Foreman on one machine (issues #2 and
// #21): start latency, end-to-end latency of a three-activity workflow,
// signal reaction, sustained throughput and its CPU per workflow, the
// memory of a worker holding 10,000 blocked workflows, and the search
// index, under both durability modes (--sync interval and --sync always),
// each on a fresh server and data directory.
//
// Two shapes are measured. Deployed (deployed.go): the real foreman-engine
// binary is one process, and this one is the user's, with a worker and a
// client over loopback TCP using the public SDK (start/e2e and throughput,
// with the index lag the engine's search API reports meanwhile). In
// process: the embedded server, services, one worker and one client all
// in this process, except the RSS measurement, whose worker runs in a
// child process (this binary re-executed) so that the figure is the
// worker's alone, and the index benchmark's search side. Cluster
// (cluster.go): throughput on an in-process 3-node cluster, with 1 and 3
// history and task shards.
//
// It prints a table per shape and writes a JSON array of {name, value,
// unit, sync, shape} (values are medians over repetitions) to -out.
//
//	go run ./bench              # full run (with the 1M-run index benchmark: long)
//	go run ./bench -metrics e2e,signal,throughput,rss  # both shapes, minutes
//	go run ./bench -quick       # smoke run, a minute or two
//	go run ./bench -shape deployed -metrics throughput -sync interval
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/foremanhq/foreman/jetstream"
)

const (
	observeConsume   = "consume"
	observeGetResult = "getresult"
)

type config struct {
	shapes        []string // shapeDeployed and/or shapeInProcess, in that order
	engineBin     string   // foreman-engine for the deployed shape ("": build it)
	syncModes     []string
	metrics       []string // groups to run: latency, signal, throughput, rss
	quick         bool
	out           string
	cpuProfile    string
	reps          int // repetitions of the expensive metrics (throughput, rss)
	latencyReps   int // repetitions of the cheap ones (start, e2e, signal)
	warmup        int // unmeasured runs before each latency repetition
	samples       int // measured runs per latency repetition
	signalSamples int
	concurrency   int
	tpWarmup      time.Duration
	duration      time.Duration
	blocked       int
	sharedConn    bool
	noHandoffs    bool // the worker takes no start or close hand-off from the client (as with a starter in another process)
	tcp           bool // roles connect over loopback TCP instead of in process
	observe       string
	dataDir       string
	verbose       bool
	indexRuns     int           // runs in the search index benchmark (index.go)
	schedules     int           // schedules of the schedule benchmark (schedule.go)
	scheduleFor   time.Duration // how long they fire
	withMetrics   bool          // metrics on and scraped (withmetrics.go)
	progress      io.Writer
}

// metric describes one reported figure.
type metric struct {
	name, unit, group string
	target            string // for --sync interval, shown in the table
	ok                func(v float64) bool
}

var allMetrics = []metric{
	{name: "start_p50_ms", unit: "ms", group: "latency"},
	{name: "e2e_3act_p50_ms", unit: "ms", group: "latency", target: "<= 2", ok: func(v float64) bool { return v <= 2 }},
	{name: "e2e_3act_p99_ms", unit: "ms", group: "latency", target: "<= 10", ok: func(v float64) bool { return v <= 10 }},
	{name: "signal_reaction_p50_ms", unit: "ms", group: "signal"},
	{name: "throughput_3act_wf_per_s", unit: "wf/s", group: "throughput", target: ">= 1500", ok: func(v float64) bool { return v >= 1500 }},
	{name: "cpu_per_wf_ms", unit: "ms", group: "throughput"},
	{name: "rss_10k_blocked_mb", unit: "MB", group: "rss", target: "<= 400", ok: func(v float64) bool { return v <= 400 }},
	{name: "rss_worker_idle_mb", unit: "MB", group: "rss"},
	{name: "update_roundtrip_p50_ms", unit: "ms", group: "update", target: "<= 2", ok: func(v float64) bool { return v <= 2 }},
	{name: "update_roundtrip_p99_ms", unit: "ms", group: "update"},
	{name: "schedule_fire_lateness_p99_ms", unit: "ms", group: "schedule", target: "<= 1000", ok: func(v float64) bool { return v <= 1000 }},
	{name: "schedule_fires", unit: "fires", group: "schedule"},
	{name: "cluster_throughput_3act_wf_per_s", unit: "wf/s", group: "cluster"},
	{name: "cluster_cpu_per_wf_ms", unit: "ms", group: "cluster"},
}

var groups = []string{"latency", "signal", "throughput", "rss", "update", "schedule", "cluster"}

// result is one line of results.json.
type result struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Sync  string  `json:"sync"`
	Shape string  `json:"shape"` // shapeDeployed, shapeInProcess or shapeCluster
	// Shards is the cluster shape's history and task shard count.
	Shards int `json:"shards,omitempty"`

	reps []float64
}

func main() {
	if os.Getenv(envRole) == roleRSS {
		os.Exit(childMain())
	}
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "foreman-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, notes, err := run(ctx, cfg)
	if len(results) > 0 {
		printTable(os.Stdout, cfg, results, notes)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "foreman-bench:", err)
		os.Exit(1)
	}
	fmt.Printf("\nwrote %s\n", cfg.out)
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("foreman-bench", flag.ContinueOnError)
	cfg := &config{progress: os.Stderr}
	shapes := fs.String("shape", shapeDeployed+","+shapeInProcess+","+shapeCluster, "what to measure, comma-separated: deployed (the foreman-engine binary, and this process's worker and client over loopback TCP: start/e2e and throughput), in-process (everything in this process: every metric) and cluster (an in-process 3-node cluster, 1 and 3 shards: cluster throughput)")
	fs.StringVar(&cfg.engineBin, "engine-bin", "", "foreman-engine binary for the deployed shape (default: built from ./cmd/engine)")
	syncs := fs.String("sync", "interval,always", "durability modes to measure, comma-separated: interval, always")
	metrics := fs.String("metrics", "all", "metrics to run, comma-separated: start/e2e (one run gives both), signal, throughput, rss, index, update, schedule, cluster, or all")
	fs.BoolVar(&cfg.quick, "quick", false, "smoke run: tiny sample counts and scale (a minute or two for everything but index); the figures are not meaningful")
	fs.StringVar(&cfg.out, "out", filepath.Join("bench", "out", "results.json"), "where to write the JSON results")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this process during the throughput run to this file (-<sync> or -deployed-<sync> is inserted before the extension)")
	reps := fs.Int("reps", 0, "repetitions of throughput and rss (default 3)")
	latReps := fs.Int("latency-reps", 0, "repetitions of start/e2e and signal (default 5)")
	samples := fs.Int("samples", 0, "measured workflows per start/e2e repetition (default 300)")
	sigSamples := fs.Int("signal-samples", 0, "measured signals per repetition (default 200)")
	warmup := fs.Int("warmup", 0, "unmeasured workflows before each latency repetition (default 100)")
	fs.IntVar(&cfg.concurrency, "concurrency", 64, "concurrent starters (throughput, and starting the blocked runs)")
	duration := fs.Duration("duration", 0, "measured time of each throughput repetition (default 10s)")
	tpWarmup := fs.Duration("throughput-warmup", 0, "unmeasured time before each throughput repetition (default 2s)")
	blocked := fs.Int("blocked", 0, "blocked workflows for the rss metric (default 10000)")
	fs.BoolVar(&cfg.tcp, "tcp", false, "services, worker and client connect to the embedded server over loopback TCP, as separate processes do (default: in process, as foreman-engine's own roles and the workers it hosts do)")
	fs.BoolVar(&cfg.noHandoffs, "no-handoffs", false, "the worker takes no run's first task from the client and hands it no close (WorkerOptions.DisableLocalHandoffs): what a starter in another process than the worker gets")
	fs.BoolVar(&cfg.sharedConn, "shared-conn", false, "services, worker and client share one NATS connection (default: one each, as separate processes would)")
	fs.StringVar(&cfg.observe, "observe", observeConsume, "how the starters see a run close: consume (one history consumer for all runs) or getresult (client.GetResult per run)")
	fs.StringVar(&cfg.dataDir, "data", "", "keep the servers' data under this directory (default: a temp dir, removed)")
	fs.BoolVar(&cfg.verbose, "v", false, "log engine and server warnings")
	fs.BoolVar(&cfg.withMetrics, "with-metrics", false, "metrics on: foreman-engine --metrics-listen, the worker's MetricsRegisterer, both read every second")
	fs.IntVar(&cfg.indexRuns, "index-runs", 0, "runs in the search index benchmark (default 1,000,000; -quick 3,000)")
	fs.IntVar(&cfg.schedules, "schedules", 0, "schedules of the schedule benchmark, each firing once a minute (default 10,000; -quick 500)")
	fs.DurationVar(&cfg.scheduleFor, "schedule-for", 0, "how long the schedule benchmark fires (default 3m; -quick 70s)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var asked []string
	for sh := range strings.SplitSeq(*shapes, ",") {
		sh = strings.TrimSpace(sh)
		if shapeGroups[sh] == nil {
			return nil, fmt.Errorf("-shape %q: want deployed, in-process and/or cluster", sh)
		}
		asked = append(asked, sh)
	}
	for _, sh := range []string{shapeDeployed, shapeInProcess, shapeCluster} { // the deployed figures first
		if slices.Contains(asked, sh) {
			cfg.shapes = append(cfg.shapes, sh)
		}
	}
	for m := range strings.SplitSeq(*syncs, ",") {
		m = strings.TrimSpace(m)
		if m != jetstream.SyncInterval && m != jetstream.SyncAlways {
			return nil, fmt.Errorf("-sync %q: want interval and/or always", m)
		}
		if !slices.Contains(cfg.syncModes, m) {
			cfg.syncModes = append(cfg.syncModes, m)
		}
	}
	for m := range strings.SplitSeq(*metrics, ",") {
		var g []string
		switch strings.TrimSpace(m) {
		case "all":
			g = groups
		case "start", "e2e", "latency":
			g = []string{"latency"}
		case "signal", "throughput", "rss", "index", "update", "schedule", "cluster":
			g = []string{strings.TrimSpace(m)}
		default:
			return nil, fmt.Errorf("-metrics: unknown metric %q (want start, e2e, signal, throughput, rss, index, update, schedule, cluster or all)", m)
		}
		for _, x := range g {
			if !slices.Contains(cfg.metrics, x) {
				cfg.metrics = append(cfg.metrics, x)
			}
		}
	}
	if cfg.observe != observeConsume && cfg.observe != observeGetResult {
		return nil, fmt.Errorf("-observe %q: want consume or getresult", cfg.observe)
	}
	if cfg.concurrency < 1 {
		return nil, fmt.Errorf("-concurrency %d: want at least 1", cfg.concurrency)
	}
	// Defaults, then -quick's, then explicit flags.
	cfg.reps, cfg.latencyReps, cfg.samples, cfg.signalSamples, cfg.warmup = 3, 5, 300, 200, 100
	cfg.duration, cfg.tpWarmup, cfg.blocked = 10*time.Second, 2*time.Second, 10_000
	if cfg.quick {
		cfg.reps, cfg.latencyReps, cfg.samples, cfg.signalSamples, cfg.warmup = 3, 3, 20, 10, 5
		cfg.duration, cfg.tpWarmup, cfg.blocked = time.Second, 300*time.Millisecond, 300
	}
	for _, o := range []struct {
		dst *int
		v   int
	}{{&cfg.reps, *reps}, {&cfg.latencyReps, *latReps}, {&cfg.samples, *samples}, {&cfg.signalSamples, *sigSamples}, {&cfg.warmup, *warmup}, {&cfg.blocked, *blocked}} {
		if o.v > 0 {
			*o.dst = o.v
		}
	}
	if *duration > 0 {
		cfg.duration = *duration
	}
	if cfg.indexRuns <= 0 {
		cfg.indexRuns = 1_000_000
		if cfg.quick {
			cfg.indexRuns = 3000
		}
	}
	if *tpWarmup > 0 {
		cfg.tpWarmup = *tpWarmup
	}
	if cfg.schedules <= 0 {
		cfg.schedules = 10_000
		if cfg.quick {
			cfg.schedules = 500
		}
	}
	if cfg.scheduleFor <= 0 {
		cfg.scheduleFor = 3 * time.Minute
		if cfg.quick {
			cfg.scheduleFor = 70 * time.Second
		}
	}
	return cfg, nil
}

func (c *config) runs(group string) bool { return slices.Contains(c.metrics, group) }

// runsIn reports whether shape measures group in this run (if shape is
// measured at all).
func (c *config) runsIn(shape, group string) bool {
	return c.runs(group) && slices.Contains(shapeGroups[shape], group)
}

// measures reports whether this run measures group in shape.
func (c *config) measures(shape, group string) bool {
	return slices.Contains(c.shapes, shape) && c.runsIn(shape, group)
}

// run measures every selected metric in every selected mode and writes
// cfg.out. It returns what it measured even on error.
func run(ctx context.Context, cfg *config) ([]*result, []string, error) {
	var all []*result
	var notes []string
	// The engines measured here, on random ports, leave their credentials
	// for local clients (this process, its child processes) in a private
	// config directory instead of the user's.
	if os.Getenv(jetstream.ConfigDirEnv) == "" {
		dir, err := os.MkdirTemp("", "foreman-bench-config-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(dir)
		os.Setenv(jetstream.ConfigDirEnv, dir)
		defer os.Unsetenv(jetstream.ConfigDirEnv)
	}
	if slices.Contains(cfg.shapes, shapeDeployed) && cfg.engineBin == "" {
		dir, err := os.MkdirTemp("", "foreman-bench-bin-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(dir)
		c := *cfg
		if c.engineBin, err = engineBinary(ctx, cfg, dir); err != nil {
			return nil, nil, err
		}
		cfg = &c
	}
	for _, shape := range cfg.shapes {
		for _, mode := range cfg.syncModes {
			run := func(ctx context.Context, cfg *config, shape, mode string) ([]*result, []string, error) {
				return runMode(ctx, cfg, shape, mode)
			}
			if shape == shapeCluster {
				if !cfg.runsIn(shape, "cluster") {
					continue
				}
				run = func(ctx context.Context, cfg *config, _, mode string) ([]*result, []string, error) {
					return runCluster(ctx, cfg, mode)
				}
			}
			rs, ns, err := run(ctx, cfg, shape, mode)
			notes = append(notes, ns...)
			all = append(all, rs...)
			if err != nil {
				return all, notes, fmt.Errorf("%s, sync %s: %w", shape, mode, err)
			}
		}
	}
	if err := writeResults(cfg.out, all); err != nil {
		return all, notes, err
	}
	return all, notes, nil
}

func (e *env) logf(format string, args ...any) {
	if e.cfg.progress != nil {
		fmt.Fprintf(e.cfg.progress, format+"\n", args...)
	}
}

func runMode(ctx context.Context, cfg *config, shape, mode string) (_ []*result, notes []string, err error) {
	start, where := startEnv, "embedded nats-server in this process"
	if shape == shapeDeployed {
		start, where = startDeployedEnv, "foreman-engine process"
	}
	e, err := start(ctx, cfg, mode)
	if err != nil {
		return nil, nil, err
	}
	defer func() { notes = e.notes }()
	defer e.close()
	e.logf("%s, sync %s: %s, data in %s", shape, mode, where, e.dir)
	byName := map[string]*result{}
	record := func(vals map[string]float64) {
		for name, v := range vals {
			r := byName[name]
			if r == nil {
				r = &result{Name: name, Unit: unitOf(name), Sync: mode, Shape: shape}
				byName[name] = r
			}
			r.reps = append(r.reps, v)
			r.Value = median(r.reps)
		}
	}
	collect := func() []*result {
		var out []*result
		for _, m := range allMetrics {
			if r := byName[m.name]; r != nil {
				out = append(out, r)
			}
		}
		return out
	}
	type step struct {
		group string
		reps  int
		fn    func(context.Context, int) (map[string]float64, error)
	}
	steps := []step{
		{"latency", cfg.latencyReps, e.latencyRep},
		{"signal", cfg.latencyReps, e.signalRep},
		{"throughput", cfg.reps, e.throughputRep},
		{"rss", cfg.reps, e.rssRep},              // it leaves runs blocked
		{"index", 1, e.indexRep},                 // index.go
		{"update", cfg.latencyReps, e.updateRep}, // update.go
		{"schedule", 1, e.scheduleRep},           // schedule.go
	}
	for _, s := range steps {
		if !cfg.runsIn(shape, s.group) {
			continue
		}
		stopProfile := func() {}
		if s.group == "throughput" && cfg.cpuProfile != "" {
			if stopProfile, err = startCPUProfile(profilePath(cfg.cpuProfile, shape, mode)); err != nil {
				return collect(), nil, err
			}
		}
		for rep := range s.reps {
			t0 := time.Now()
			vals, err := s.fn(ctx, rep)
			if err == nil {
				err = e.failed()
			}
			if err != nil {
				stopProfile()
				return collect(), nil, fmt.Errorf("%s repetition %d: %w", s.group, rep+1, err)
			}
			record(vals)
			e.logf("  %-10s rep %d/%d (%4.1fs): %s", s.group, rep+1, s.reps, time.Since(t0).Seconds(), formatVals(vals))
		}
		stopProfile()
		if s.group == "throughput" && cfg.cpuProfile != "" {
			e.logf("  cpu profile of this process during the throughput run: %s", profilePath(cfg.cpuProfile, shape, mode))
		}
	}
	return collect(), nil, nil
}

func startCPUProfile(path string) (stop func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// profilePath inserts -<mode> (in process) or -deployed-<mode> before
// path's extension.
func profilePath(path, shape, mode string) string {
	ext := filepath.Ext(path)
	if shape == shapeDeployed {
		mode = shapeDeployed + "-" + mode
	}
	return strings.TrimSuffix(path, ext) + "-" + mode + ext
}

func unitOf(name string) string {
	for _, m := range allMetrics {
		if m.name == name {
			return m.unit
		}
	}
	return ""
}

func formatVals(vals map[string]float64) string {
	var parts []string
	for _, m := range allMetrics {
		if v, ok := vals[m.name]; ok {
			parts = append(parts, fmt.Sprintf("%s=%.4g", m.name, v))
		}
	}
	return strings.Join(parts, " ")
}

func writeResults(path string, rs []*result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if rs == nil {
		rs = []*result{}
	}
	data, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
