package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream"
)

func TestMain(m *testing.M) {
	// The rss metric re-executes the running binary (this test binary
	// here) as its worker process.
	if os.Getenv(envRole) == roleRSS {
		os.Exit(childMain())
	}
	// One private config directory (where the engines measured leave
	// their credentials for this process and its children) for the whole
	// binary: run() would otherwise make one per call and remove it, and
	// unset its variable, while a parallel test's children still need it.
	if os.Getenv(jetstream.ConfigDirEnv) == "" {
		dir, err := os.MkdirTemp("", "foreman-bench-test-config-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Setenv(jetstream.ConfigDirEnv, dir)
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestQuickRun runs the in-process shape's whole harness at smoke-test
// scale in both sync modes and checks the JSON it writes.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs embedded servers and child processes for ~30-60 s (the race detector slows it)")
	}
	t.Parallel() // beside TestScheduleQuickRun: each mostly waits
	// Every in-process metric but schedule, which fires for over a minute
	// and has its own test.
	got, data := quickRun(t, "-shape", "in-process", "-metrics", "e2e,signal,throughput,rss,index,update")
	seen := map[string]bool{}
	for _, r := range got {
		seen[r["sync"].(string)+"/"+r["name"].(string)] = true
	}
	for _, sync := range []string{"interval", "always"} {
		for _, name := range []string{"start_p50_ms", "e2e_3act_p50_ms", "e2e_3act_p99_ms", "signal_reaction_p50_ms",
			"throughput_3act_wf_per_s", "cpu_per_wf_ms", "rss_10k_blocked_mb"} {
			if !seen[sync+"/"+name] {
				t.Errorf("no %s for sync %s in %s", name, sync, data)
			}
		}
	}
}

// TestScheduleQuickRun fires the schedule benchmark at smoke-test scale
// (500 schedules, each once a minute, for 70 s): every fire decided
// started exactly one run (the harness fails the repetition otherwise) and
// the lateness figure is there.
func TestScheduleQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("fires schedules for over a minute")
	}
	t.Parallel()
	got, data := quickRun(t, "-shape", "in-process", "-metrics", "schedule", "-sync", "interval")
	seen := map[string]float64{}
	for _, r := range got {
		seen[r["name"].(string)] = r["value"].(float64)
	}
	if _, ok := seen["schedule_fire_lateness_p99_ms"]; !ok || seen["schedule_fires"] < 500 {
		t.Errorf("want schedule_fire_lateness_p99_ms and at least 500 fires in %s", data)
	}
}

// TestDeployedQuickRun builds foreman-engine, runs it as its own process
// and measures it at smoke-test scale from this one over TCP in both sync
// modes: every figure of the deployed shape is there, labelled deployed.
func TestDeployedQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds foreman-engine and runs it for ~30-60 s")
	}
	got, data := quickRun(t, "-shape", "deployed", "-metrics", "e2e,throughput")
	seen := map[string]float64{}
	for _, r := range got {
		if r["shape"] != "deployed" {
			t.Errorf("result %v: want shape deployed", r)
		}
		seen[r["sync"].(string)+"/"+r["name"].(string)] = r["value"].(float64)
	}
	for _, sync := range []string{"interval", "always"} {
		for _, name := range []string{"start_p50_ms", "e2e_3act_p50_ms", "e2e_3act_p99_ms", "throughput_3act_wf_per_s", "cpu_per_wf_ms", "index_lag_p99_ms"} {
			if _, ok := seen[sync+"/"+name]; !ok {
				t.Errorf("no %s for sync %s in %s", name, sync, data)
			}
		}
	}
}

// TestClusterQuickRun measures the cluster shape at smoke-test scale:
// cluster_throughput_3act_wf_per_s once per shard count, labelled.
func TestClusterQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two 3-node clusters")
	}
	got, data := quickRun(t, "-shape", "cluster", "-metrics", "cluster", "-sync", "interval")
	seen := map[string]bool{}
	for _, r := range got {
		if r["shape"] != "cluster" {
			t.Errorf("result %v: want shape cluster", r)
		}
		seen[fmt.Sprintf("%v/%v", r["name"], r["shards"])] = true
	}
	for _, want := range []string{"cluster_throughput_3act_wf_per_s/1", "cluster_throughput_3act_wf_per_s/3", "cluster_cpu_per_wf_ms/1", "cluster_cpu_per_wf_ms/3"} {
		if !seen[want] {
			t.Errorf("no %s in %s", want, data)
		}
	}
}

// quickRun runs the harness with -quick and args, and returns the results
// it wrote, checked for their fields.
func quickRun(t *testing.T, args ...string) ([]map[string]any, []byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out", "results.json")
	cfg, err := parseFlags(append([]string{"-quick", "-out", out}, args...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.progress = logWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, _, err := run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("results are not a JSON array of objects: %v\n%s", err, data)
	}
	for _, r := range got {
		name, _ := r["name"].(string)
		sync, _ := r["sync"].(string)
		unit, _ := r["unit"].(string)
		shape, _ := r["shape"].(string)
		value, ok := r["value"].(float64)
		// An index caught up at every sample has a lag of 0.
		if name == "" || unit == "" || !ok || value < 0 || (value == 0 && name != "index_lag_p99_ms") ||
			(sync != "interval" && sync != "always") || (shape != "deployed" && shape != "in-process" && shape != "cluster") {
			t.Errorf("bad result %v", r)
		}
		if want := map[bool]int{true: 6, false: 5}[shape == "cluster"]; len(r) != want {
			t.Errorf("result %v: want exactly name, value, unit, sync, shape (and shards in the cluster shape)", r)
		}
	}
	return got, data
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-sync", "always", "-metrics", "e2e,rss", "-blocked", "50"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.syncModes) != 1 || cfg.syncModes[0] != "always" || !cfg.runs("latency") || !cfg.runs("rss") ||
		cfg.runs("throughput") || cfg.blocked != 50 || cfg.samples != 300 {
		t.Fatalf("config %+v", cfg)
	}
	if cfg, err := parseFlags([]string{"-shape", "in-process,deployed"}); err != nil || !slices.Equal(cfg.shapes, []string{"deployed", "in-process"}) {
		t.Errorf("-shape in-process,deployed: %v, %v; want the deployed shape first", cfg.shapes, err)
	}
	for _, bad := range [][]string{{"-sync", "never"}, {"-metrics", "speed"}, {"-observe", "psychic"}, {"-shape", "cloud"}, {"extra"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if p := profilePath("bench/out/cpu.prof", shapeInProcess, "always"); p != "bench/out/cpu-always.prof" {
		t.Errorf("profilePath: %s", p)
	}
	if v := median([]float64{3, 1, 2}); v != 2 {
		t.Errorf("median %v", v)
	}
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	if p50, p99 := percentile(ds, 50), percentile(ds, 99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
}
