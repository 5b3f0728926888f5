// Command foreman-bench measures Foreman on one machine (issue #2): start
// latency, end-to-end latency of a three-activity workflow, signal
// reaction, sustained throughput and the memory of a worker holding 10,000
// blocked workflows, under both durability modes (--sync interval and
// --sync always), each on a fresh embedded nats-server in a temp dir.
//
// Everything runs in this process as the default single-machine deployment
// does (embedded server, dispatcher and timer services, one worker, one
// client), except the RSS measurement, whose worker runs in a child
// process (this binary re-executed) so that the figure is the worker's
// alone.
//
// It prints a table and writes a JSON array of {name, value, unit, sync}
// (values are medians over repetitions) to -out.
//
//	go run ./bench              # full run, a few minutes
//	go run ./bench -quick       # smoke run, well under 30 s
//	go run ./bench -metrics throughput -sync interval -cpuprofile bench/out/cpu.prof
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
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foremanhq/foreman/jetstream"
)

const (
	observeConsume   = "consume"
	observeGetResult = "getresult"
)

type config struct {
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
	tcp           bool // roles connect over loopback TCP instead of in process
	observe       string
	dataDir       string
	verbose       bool
	indexRuns     int // runs in the search index benchmark (index.go)
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
	{name: "e2e_3act_p99_ms", unit: "ms", group: "latency"},
	{name: "signal_reaction_p50_ms", unit: "ms", group: "signal"},
	{name: "throughput_3act_wf_per_s", unit: "wf/s", group: "throughput", target: ">= 1500", ok: func(v float64) bool { return v >= 1500 }},
	{name: "rss_10k_blocked_mb", unit: "MB", group: "rss", target: "<= 400", ok: func(v float64) bool { return v <= 400 }},
	{name: "rss_worker_idle_mb", unit: "MB", group: "rss"},
}

var groups = []string{"latency", "signal", "throughput", "rss"}

// result is one line of results.json.
type result struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Sync  string  `json:"sync"`

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
	syncs := fs.String("sync", "interval,always", "durability modes to measure, comma-separated: interval, always")
	metrics := fs.String("metrics", "all", "metrics to run, comma-separated: start/e2e (one run gives both), signal, throughput, rss, index, or all")
	fs.BoolVar(&cfg.quick, "quick", false, "smoke run: tiny sample counts and scale (< 30 s); the figures are not meaningful")
	fs.StringVar(&cfg.out, "out", filepath.Join("bench", "out", "results.json"), "where to write the JSON results")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the throughput run to this file (-<sync> is inserted before the extension)")
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
	fs.BoolVar(&cfg.sharedConn, "shared-conn", false, "services, worker and client share one NATS connection (default: one each, as separate processes would)")
	fs.StringVar(&cfg.observe, "observe", observeConsume, "how the starters see a run close: consume (one history consumer for all runs) or getresult (client.GetResult per run)")
	fs.StringVar(&cfg.dataDir, "data", "", "keep the servers' data under this directory (default: a temp dir, removed)")
	fs.BoolVar(&cfg.verbose, "v", false, "log engine and server warnings")
	fs.IntVar(&cfg.indexRuns, "index-runs", 0, "runs in the search index benchmark (default 1,000,000; -quick 3,000)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
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
		case "signal", "throughput", "rss", "index":
			g = []string{strings.TrimSpace(m)}
		default:
			return nil, fmt.Errorf("-metrics: unknown metric %q (want start, e2e, signal, throughput, rss, index or all)", m)
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
	return cfg, nil
}

func (c *config) runs(group string) bool { return slices.Contains(c.metrics, group) }

// run measures every selected metric in every selected mode and writes
// cfg.out. It returns what it measured even on error.
func run(ctx context.Context, cfg *config) ([]*result, []string, error) {
	var all []*result
	var notes []string
	for _, mode := range cfg.syncModes {
		rs, ns, err := runMode(ctx, cfg, mode)
		notes = append(notes, ns...)
		all = append(all, rs...)
		if err != nil {
			return all, notes, fmt.Errorf("sync %s: %w", mode, err)
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

func runMode(ctx context.Context, cfg *config, mode string) (_ []*result, notes []string, err error) {
	e, err := startEnv(ctx, cfg, mode)
	if err != nil {
		return nil, nil, err
	}
	defer func() { notes = e.notes }()
	defer e.close()
	e.logf("sync %s: embedded nats-server in %s", mode, e.dir)
	byName := map[string]*result{}
	record := func(vals map[string]float64) {
		for name, v := range vals {
			r := byName[name]
			if r == nil {
				r = &result{Name: name, Unit: unitOf(name), Sync: mode}
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
		{"rss", cfg.reps, e.rssRep}, // it leaves runs blocked
		{"index", 1, e.indexRep},    // index.go
	}
	for _, s := range steps {
		if !cfg.runs(s.group) {
			continue
		}
		stopProfile := func() {}
		if s.group == "throughput" && cfg.cpuProfile != "" {
			if stopProfile, err = startCPUProfile(profilePath(cfg.cpuProfile, mode)); err != nil {
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
			e.logf("  cpu profile of the throughput run: %s", profilePath(cfg.cpuProfile, mode))
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

// profilePath inserts -<mode> before path's extension.
func profilePath(path, mode string) string {
	ext := filepath.Ext(path)
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

func printTable(w io.Writer, cfg *config, rs []*result, notes []string) {
	find := func(name, mode string) *result {
		for _, r := range rs {
			if r.Name == name && r.Sync == mode {
				return r
			}
		}
		return nil
	}
	fmt.Fprintf(w, "\nForeman benchmark: %d CPUs, %s %s/%s, embedded nats-server, medians of repetitions",
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if cfg.quick {
		fmt.Fprint(w, " (QUICK: smoke-test scale, not meaningful)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "metric\t")
	for _, mode := range cfg.syncModes {
		fmt.Fprintf(tw, "sync %s\t", mode)
	}
	fmt.Fprint(tw, "unit\ttarget (interval)\t\n")
	for _, m := range allMetrics {
		if !cfg.runs(m.group) {
			continue
		}
		fmt.Fprintf(tw, "%s\t", m.name)
		for _, mode := range cfg.syncModes {
			if r := find(m.name, mode); r != nil {
				fmt.Fprintf(tw, "%.4g\t", r.Value)
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		verdict := ""
		if r := find(m.name, jetstream.SyncInterval); r != nil && m.ok != nil {
			verdict = "  MISS"
			if m.ok(r.Value) {
				verdict = "  ok"
			}
		}
		fmt.Fprintf(tw, "%s\t%s%s\t\n", m.unit, m.target, verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nstart/e2e: %d x %d runs of 3 sequential no-op activities, one at a time (after %d warm-up runs); close observed via %s.\n",
		cfg.latencyReps, cfg.samples, cfg.warmup, observeDesc(cfg.observe))
	fmt.Fprintf(w, "signal: %d x %d signals, from the Signal call to the run's next workflow-task batch (which completes it) being observed.\n",
		cfg.latencyReps, cfg.signalSamples)
	fmt.Fprintf(w, "throughput: %d x %s (after %s warm-up), %d goroutines each starting a run and waiting for it to close.\n",
		cfg.reps, cfg.duration, cfg.tpWarmup, cfg.concurrency)
	fmt.Fprintf(w, "rss: %d x %d runs blocked on AwaitApproval; VmRSS of the worker process alone (a child process, after runtime.GC) once all recorded ApprovalRequested.\n",
		cfg.reps, cfg.blocked)
	conn := "services, worker and client each on their own NATS connection"
	if cfg.sharedConn {
		conn = "services, worker and client sharing one NATS connection"
	}
	if cfg.tcp {
		conn += " over loopback TCP (as worker processes of their own connect)"
	} else {
		conn += " in process (nats.InProcessServer, as foreman-engine's own roles and the workers it hosts connect; -tcp for loopback TCP)"
	}
	fmt.Fprintf(w, "All other metrics: one process (embedded server, services, worker, client), %s.\n", conn)
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

func observeDesc(o string) string {
	if o == observeGetResult {
		return "client.GetResult per run"
	}
	return "one durable history consumer (Store.ConsumeHistory) for all runs"
}
