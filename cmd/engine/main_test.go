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
	"syscall"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/internal/syncbuf"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/nats-io/nats.go"
)

// The real binary: starts embedded NATS, runs the example workers, serves a
// client in another process, and shuts down cleanly on SIGTERM.
func TestEngineBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "foreman-engine")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + strconv.Itoa(jstest.FreePort(t))
	var logs syncbuf.Buffer
	cmd := exec.Command(bin, "--data", filepath.Join(dir, "data"), "--listen", addr, "--examples", "--log-level", "warn")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var nc *nats.Conn
	var store *jetstream.Store
	var err error
	for store == nil { // the engine is starting: retry until it answers
		if nc == nil {
			nc, err = jetstream.Connect(ctx, "nats://"+addr, jetstream.Options{})
		}
		if nc != nil {
			store, err = jetstream.Open(ctx, nc, jetstream.Options{})
		}
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("engine never answered: %v\n%s", err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer nc.Close()
	unauthenticatedRefused(t, "nats://"+addr, filepath.Join(dir, "data"))
	secondEngineRefused(t, bin, filepath.Join(dir, "data"), cmd.Process.Pid)
	c := engine.NewClient(store, engine.ClientOptions{Identity: "ops"})
	in := examples.OrderInput{OrderID: "e2e", Amount: 1500}
	if _, err := c.Start(ctx, engine.StartOptions{ID: "order-e2e", TaskQueue: examples.OrderQueue}, examples.OrderFulfillment, in); err != nil {
		t.Fatal(err)
	}
	for {
		x, err := c.Describe(ctx, "order-e2e", "")
		if err == nil && len(x.Approvals) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no pending approval: %+v %v\n%s", x, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Decide(ctx, "order-e2e", "", "manager", true, "ship it"); err != nil {
		t.Fatal(err)
	}
	var tracking string
	if err := c.GetResult(ctx, "order-e2e", "", &tracking); err != nil || tracking != "TRK-e2e" {
		t.Fatalf("result %q %v\n%s\nengine log:\n%s", tracking, err, historyDump(c, "order-e2e", "order-e2e/shipment"), logs.String())
	}
	_ = store.Close()
	nc.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no clean shutdown after SIGTERM\n%s", logs.String())
	}
}

// secondEngineRefused starts a second engine on a running one's data
// directory: it must exit at once, naming the first, before its embedded
// server opens the file store (two servers on one store corrupt it).
func secondEngineRefused(t *testing.T, bin, data string, firstPid int) {
	t.Helper()
	var stderr bytes.Buffer
	second := exec.Command(bin, "--data", data, "--listen", "127.0.0.1:"+strconv.Itoa(jstest.FreePort(t)))
	second.Stderr = &stderr
	done := make(chan error, 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("second engine on the same data: exit %v, want 1\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		second.Process.Kill()
		t.Fatalf("second engine on the same data still running after 15s\n%s", stderr.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, "data directory in use") || !strings.Contains(msg, "pid="+strconv.Itoa(firstPid)) {
		t.Fatalf("second engine's refusal does not name the first (pid %d):\n%s", firstPid, msg)
	}
}

// unauthenticatedRefused: the engine made its credentials under its data
// directory (0600) and left a copy for clients of this user (which the
// test's jetstream.Connect just used, given no credentials); a plain NATS
// client without them is refused.
func unauthenticatedRefused(t *testing.T, url, data string) {
	t.Helper()
	for _, p := range []string{filepath.Join(data, "auth", "local.nk"), localCreds(t, url)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %o, want 600", p, fi.Mode().Perm())
		}
	}
	raw, err := nats.Connect(url, nats.NoReconnect())
	if err == nil {
		raw.Close()
		t.Fatal("foreman-engine accepted a NATS connection without credentials")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connection without credentials: %v, want an authorization violation", err)
	}
}

func localCreds(t *testing.T, url string) string {
	t.Helper()
	p, err := jetstream.LocalCredsPath(url)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Listening where other hosts reach the engine without TLS is refused at
// once, the error naming TLS and --insecure; --insecure lets it start.
func TestEngineRefusesExposedListen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "foreman-engine")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--listen", "0.0.0.0:"+strconv.Itoa(jstest.FreePort(t)), "--data", filepath.Join(dir, "data"))
	began := time.Now()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("--listen 0.0.0.0 without TLS: %v, want a non-zero exit\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--insecure")) || !bytes.Contains(out, []byte("TLS")) {
		t.Fatalf("refusal does not name TLS and --insecure:\n%s", out)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("refused only after %s", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("the refused engine created its data directory")
	}
	t.Logf("refusal: %s", out)
}

func TestEngineRejectsBadFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, err := exec.Command("go", "run", ".", "--sync", "sometimes").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(`sync "sometimes"`)) {
		t.Fatalf("bad --sync: %v\n%s", err, out)
	}
}

// The real binary with --metrics-listen: a few workflows later, /metrics
// shows their starts, completions and latency histograms, and every
// metric the Grafana dashboard queries is among what it serves.
func TestEngineMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	metricsPort := strconv.Itoa(jstest.FreePort(t))
	// A bare port: loopback.
	ctx, store, logs := runExamplesEngine(t, nil, "--metrics-listen", metricsPort)
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
		`foreman_jetstream_publish_seconds_count{op="history"}`,
		`foreman_jetstream_publish_seconds_count{op="task"}`,
		`foreman_worker_run_history_events_count{queue="orders"}`,
		`foreman_worker_run_history_bytes_count{queue="orders"}`,
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
	// Served at zero until something happens: no order sets a timer, and
	// no run is dead-lettered (nor can be, before the index has the field).
	for _, k := range []string{`foreman_timer_lateness_seconds_count{kind="timer"}`, `foreman_dead_lettered_runs`,
		`foreman_jetstream_publish_errors_total{op="history",reason="timeout"}`} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s is not served", k)
		}
	}
	// Each order and its Shipment child (on the same queue) closes once.
	if got := m[`foreman_worker_run_history_events_count{queue="orders"}`]; got != 2*runs {
		t.Errorf("history sizes observed for %v runs, want %d (the orders and their shipments)", got, 2*runs)
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

// runExamplesEngine builds and runs foreman-engine with --examples and
// args (env added to its environment) until the test ends, and connects
// to it within the returned context (90 s).
func runExamplesEngine(t *testing.T, env []string, args ...string) (context.Context, *jetstream.Store, *bytes.Buffer) {
	t.Helper()
	dir, bin := buildEngine(t)
	addr := "127.0.0.1:" + strconv.Itoa(jstest.FreePort(t))
	logs := &bytes.Buffer{}
	cmd := exec.Command(bin, append([]string{"--data", filepath.Join(dir, "data"), "--listen", addr, "--examples", "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx, connect(ctx, t, "nats://"+addr, logs), logs
}

// buildEngine builds foreman-engine into a temporary directory.
func buildEngine(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "foreman-engine")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return dir, bin
}

// --shards is fixed when the data is created: the binary creates 3-shard
// data, a later start without the flag keeps 3, and a start asking for 1
// is refused with the command that creates new data instead.
func TestEngineShardsFixedWithTheData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir, bin := buildEngine(t)
	data := filepath.Join(dir, "data")
	runUntilReady := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--data", data, "--listen", "127.0.0.1:" + strconv.Itoa(jstest.FreePort(t))}, args...)...)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		ready, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				log.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "foreman-engine ready") {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			_ = cmd.Wait()
			t.Fatalf("foreman-engine %v not ready within 60 s", args)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done // all read before Wait closes the pipe
		_ = cmd.Wait()
		return log.String()
	}
	if out := runUntilReady("--shards", "3"); !strings.Contains(out, "shards=3") {
		t.Fatalf("first start with --shards 3 does not say shards=3:\n%s", out)
	}
	if out := runUntilReady(); !strings.Contains(out, "shards=3") {
		t.Fatalf("a start without --shards on 3-shard data does not keep 3:\n%s", out)
	}
	out, err := exec.Command(bin, "--data", data, "--listen", "127.0.0.1:"+strconv.Itoa(jstest.FreePort(t)), "--shards", "1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "this data has 3 shard(s)") || !strings.Contains(string(out), "foreman-engine --data <new directory> --shards 1") {
		t.Fatalf("--shards 1 on 3-shard data: %v\n%s", err, out)
	}
}
