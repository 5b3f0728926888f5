package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// The RSS metric runs the worker in a child process (this binary re-executed
// with FOREMAN_BENCH_ROLE=rss-worker) so that the figure is the worker's
// alone, not the embedded server's or the client's.
const (
	envRole  = "FOREMAN_BENCH_ROLE"
	envNATS  = "FOREMAN_BENCH_NATS"
	envQueue = "FOREMAN_BENCH_QUEUE"
	roleRSS  = "rss-worker"
)

// memStats is what the child reports when asked.
type memStats struct {
	RSSKB      int64  `json:"rss_kb"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Goroutines int    `json:"goroutines"`
	CachedRuns int    `json:"cached_runs"`
}

// statusKB reads a kB figure of this process from /proc/self/status
// (VmRSS:, RssFile:).
func statusKB(key string) (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", key)
}

// childMain is the RSS child: a worker for Blocked on the queue named in
// the environment, answering "mem" on stdin with its memory use, and
// exiting when stdin closes.
func childMain() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "rss worker:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := jetstream.Options{Name: "bench-rss-worker"}
	st, closeStore, err := openChildStore(ctx, opts)
	if err != nil {
		return fail(err)
	}
	defer closeStore()
	w := engine.NewWorker(st, os.Getenv(envQueue), engine.WorkerOptions{Identity: "bench-rss-worker", Logger: benchLogger(false)})
	if err := w.RegisterWorkflow(Blocked); err != nil {
		return fail(err)
	}
	if err := w.Start(ctx); err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "mem" {
			continue
		}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		rss, err := statusKB("VmRSS:")
		if err != nil {
			return fail(err)
		}
		out, _ := json.Marshal(memStats{RSSKB: rss, HeapInuse: m.HeapInuse, StackInuse: m.StackInuse, Goroutines: runtime.NumGoroutine(), CachedRuns: w.CachedRuns()})
		fmt.Println(string(out))
	}
	// The parent is done: exit without draining (the runs stay blocked).
	return 0
}

// child is the parent's handle on an RSS worker process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
	waited chan error
}

func startChild(natsURL, queue string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envRole+"="+roleRSS, envNATS+"="+natsURL, envQueue+"="+queue)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, stdout: bufio.NewScanner(stdout), waited: make(chan error, 1)}
	line, err := c.readLine(30 * time.Second)
	if err != nil || line != "ready" {
		c.stop()
		return nil, fmt.Errorf("rss worker did not start (%q): %v", line, err)
	}
	return c, nil
}

func (c *child) readLine(timeout time.Duration) (string, error) {
	got := make(chan string, 1)
	go func() {
		if c.stdout.Scan() {
			got <- c.stdout.Text()
		}
		close(got)
	}()
	select {
	case line, ok := <-got:
		if !ok {
			return "", fmt.Errorf("rss worker exited: %v", c.stdout.Err())
		}
		return line, nil
	case <-time.After(timeout):
		return "", errors.New("rss worker did not answer")
	}
}

func (c *child) mem() (memStats, error) {
	var m memStats
	if _, err := io.WriteString(c.stdin, "mem\n"); err != nil {
		return m, err
	}
	line, err := c.readLine(30 * time.Second)
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal([]byte(line), &m)
}

func (c *child) stop() {
	_ = c.stdin.Close()
	go func() { c.waited <- c.cmd.Wait() }()
	select {
	case <-c.waited:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.waited
	}
}

// rssRep starts cfg.blocked runs of Blocked on a fresh queue served by a
// fresh child worker, waits until every one has recorded ApprovalRequested
// (its first workflow task batch), and reads the child's RSS after a GC.
func (e *env) rssRep(ctx context.Context, rep int) (map[string]float64, error) {
	queue := fmt.Sprintf("rss%d", rep)
	c, err := startChild(e.srv.ClientURL(), queue)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	idle, err := c.mem()
	if err != nil {
		return nil, err
	}

	n := e.cfg.blocked
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, e.cfg.concurrency)
	for range e.cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				id := fmt.Sprintf("%s-%d", queue, i)
				recorded := e.obs.expect(id, isTask)
				if _, err := e.client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: queue}, Blocked, nil); err != nil {
					errs <- err
					return
				}
				if _, err := waitFor(ctx, recorded, 2*waitTimeout, id+" requesting approval"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	// The first workflow task batch is the approval request: check one.
	events, err := e.client.History(ctx, queue+"-0", "")
	if err != nil {
		return nil, err
	}
	found := false
	for _, ev := range events {
		found = found || ev.Type == engine.EventApprovalRequested
	}
	if !found {
		return nil, fmt.Errorf("%s-0 has no ApprovalRequested in its history", queue)
	}
	m, err := c.mem()
	if err != nil {
		return nil, err
	}
	if m.CachedRuns < n {
		fmt.Fprintf(os.Stderr, "  note: rss worker holds %d of %d runs in its cache\n", m.CachedRuns, n)
	}
	detail := fmt.Sprintf("idle worker %.1f MB; with %d blocked runs %.1f MB RSS (%.1f KB per run): heap in use %.1f MB, goroutine stacks %.1f MB, %d goroutines, %d runs cached",
		float64(idle.RSSKB)/1024, n, float64(m.RSSKB)/1024, float64(m.RSSKB-idle.RSSKB)/float64(n),
		float64(m.HeapInuse)/(1<<20), float64(m.StackInuse)/(1<<20), m.Goroutines, m.CachedRuns)
	e.logf("  rss rep %d: %s", rep+1, detail)
	if rep == e.cfg.reps-1 {
		e.notes = append(e.notes, fmt.Sprintf("sync %s, rss worker (last repetition): %s", e.mode, detail))
	}
	return map[string]float64{
		"rss_10k_blocked_mb": float64(m.RSSKB) / 1024,
		"rss_worker_idle_mb": float64(idle.RSSKB) / 1024,
	}, nil
}

// openChildStore connects a benchmark's child process to the NATS server
// its parent names in the environment and opens the store on it; close
// releases both.
func openChildStore(ctx context.Context, opts jetstream.Options) (st *jetstream.Store, close func(), err error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nc, err := jetstream.Connect(cctx, os.Getenv(envNATS), opts)
	if err != nil {
		return nil, nil, err
	}
	if st, err = jetstream.Open(cctx, nc, opts); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return st, func() { _ = st.Close(); nc.Close() }, nil
}
