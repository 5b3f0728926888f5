package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// The real binary with --metrics-listen: a few workflows later, /metrics
// shows their starts, completions and latency histograms, and every
// metric the Grafana dashboard queries is among what it serves.
func TestEngineMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "foreman-engine")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + strconv.Itoa(jstest.FreePort(t))
	metricsPort := strconv.Itoa(jstest.FreePort(t))
	var logs bytes.Buffer
	// A bare port: loopback.
	cmd := exec.Command(bin, "--data", filepath.Join(dir, "data"), "--listen", addr, "--examples", "--log-level", "warn", "--metrics-listen", metricsPort)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	store := connect(ctx, t, "nats://"+addr, &logs)
	c := engine.NewClient(store, engine.ClientOptions{Identity: "ops"})
	const runs = 5
	for i := range runs {
		id := fmt.Sprintf("order-m%d", i)
		if _, err := c.Start(ctx, engine.StartOptions{ID: id, TaskQueue: examples.OrderQueue}, examples.OrderFulfillment, examples.OrderInput{OrderID: id, Amount: 10}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range runs {
		var tracking string
		if err := c.GetResult(ctx, fmt.Sprintf("order-m%d", i), "", &tracking); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}

	url := "http://127.0.0.1:" + metricsPort + "/metrics"
	// Completions reach the counters as the index applies them, and the
	// workers' schedule-to-start with their next announcement (5 s).
	var m map[string]float64
	want := []string{
		`foreman_runs_started_total{queue="orders",workflow_type="OrderFulfillment"}`,
		`foreman_runs_closed_total{queue="orders",status="completed",workflow_type="OrderFulfillment"}`,
		`foreman_run_duration_seconds_count`,
		`foreman_activity_schedule_to_start_seconds_count`,
		`foreman_workflow_task_schedule_to_start_seconds_count`,
		`foreman_worker_task_duration_seconds_count{kind="activity",queue="orders"}`,
		`foreman_worker_task_duration_seconds_count{kind="workflow",queue="orders"}`,
		`foreman_task_queue_workers{kind="activity",queue="orders"}`,
		`foreman_task_queue_slots{kind="activity",queue="orders"}`,
	}
	for {
		m = scrape(t, url)
		missing := ""
		for _, k := range want {
			if m[k] <= 0 {
				missing = k
				break
			}
		}
		if missing == "" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s is %v after %d runs\n%s", missing, m[missing], runs, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := m[`foreman_runs_started_total{queue="orders",workflow_type="OrderFulfillment"}`]; got < runs {
		t.Errorf("foreman_runs_started_total %v, want >= %d", got, runs)
	}
	for k, v := range m {
		if strings.Contains(k, "run_id") || strings.Contains(k, "order-m") {
			t.Errorf("a run's id in a label: %s %v", k, v)
		}
	}
	names := map[string]bool{}
	for k := range m {
		names[strings.SplitN(k, "{", 2)[0]] = true
	}
	checkDashboard(t, names)
}

// checkDashboard loads the Grafana dashboard and checks that every metric
// its panels and variables query is among names (what an engine serves).
func checkDashboard(t *testing.T, names map[string]bool) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/foreman.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	exprs := 0
	metric := regexp.MustCompile(`\b(foreman|process|go)_[a-z0-9_]+`)
	check := func(where, expr string) {
		found := metric.FindAllString(expr, -1)
		if len(found) == 0 && !strings.HasPrefix(where, "variable") {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range found {
			if !names[n] {
				t.Errorf("%s: %s is not served by the engine", where, n)
			}
		}
		exprs++
	}
	panels := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if s, ok := v.Query.(string); ok {
			check("variable", s)
		}
	}
	if panels < 15 {
		t.Errorf("%d panels, want the dashboard's 15 or more", panels)
	}
	t.Logf("dashboard: %d panels, %d queries checked", panels, exprs)
}

// scrape reads a Prometheus text exposition into series -> value; a
// histogram's buckets, sum and count are series of their own.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// connect opens a store on the engine's embedded server, retrying while
// the engine starts.
func connect(ctx context.Context, t *testing.T, url string, logs *bytes.Buffer) *jetstream.Store {
	t.Helper()
	for {
		nc, err := jetstream.Connect(ctx, url, jetstream.Options{})
		if err == nil {
			var store *jetstream.Store
			if store, err = jetstream.Open(ctx, nc, jetstream.Options{}); err == nil {
				t.Cleanup(func() { _ = store.Close(); nc.Close() })
				return store
			}
			nc.Close()
		}
		if ctx.Err() != nil {
			t.Fatalf("engine never answered: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An address other hosts reach is refused without --insecure, at once.
func TestEngineRefusesExposedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := t.TempDir()
	out, err := exec.Command("go", "run", ".", "--data", filepath.Join(dir, "data"), "--metrics-listen", "0.0.0.0:"+strconv.Itoa(jstest.FreePort(t))).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !bytes.Contains(out, []byte("--insecure")) || !bytes.Contains(out, []byte("--metrics-listen")) {
		t.Fatalf("--metrics-listen 0.0.0.0: %v, want a refusal naming --insecure\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("the refused engine created its data directory")
	}
}
