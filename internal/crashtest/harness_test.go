package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// buildHost compiles internal/crashhost into dir.
func buildHost(t *testing.T, dir string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the crash test builds the crash host and needs the go command: %v", err)
	}
	bin := filepath.Join(dir, "crashhost")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/foremanhq/foreman/internal/crashhost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building crashhost: %v\n%s", err, out)
	}
	return bin
}

// freeListen returns a loopback address with a port nobody listens on now.
func freeListen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// host runs the crashhost binary, one incarnation at a time, always on the
// same data directory and port.
type host struct {
	t       *testing.T
	bin     string
	dataDir string
	listen  string
	logDir  string
	ackWait time.Duration

	n      int // incarnations started
	cmd    *exec.Cmd
	exited chan struct{}
	logs   []string
}

func (h *host) url() string { return "nats://" + h.listen }

// start runs a new incarnation and waits (at most a minute) until it prints
// that its worker polls; it returns how long that took.
func (h *host) start() time.Duration {
	h.t.Helper()
	h.n++
	logPath := filepath.Join(h.logDir, fmt.Sprintf("host-%d.log", h.n))
	h.logs = append(h.logs, logPath)
	f, err := os.Create(logPath)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(h.bin, "-data", h.dataDir, "-listen", h.listen, "-sync", jetstream.SyncInterval,
		"-ackwait", h.ackWait.String(), "-log", "warn")
	cmd.Stderr = f
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	begun := time.Now()
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("starting crashhost: %v", err)
	}
	h.cmd = cmd
	exited := make(chan struct{})
	h.exited = exited
	ready := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(f, "stdout:", line)
			if !seen && strings.HasPrefix(line, "crashhost ready") {
				seen = true
				close(ready)
			}
		}
		err := cmd.Wait()
		fmt.Fprintln(f, "exit:", err)
		_ = f.Close()
	}()
	select {
	case <-ready:
		return time.Since(begun)
	case <-exited:
		h.t.Fatalf("crashhost incarnation %d exited before it was ready\n%s", h.n, h.tail(40))
	case <-time.After(time.Minute):
		h.killNow()
		h.t.Fatalf("crashhost incarnation %d not ready after a minute\n%s", h.n, h.tail(40))
	}
	return 0
}

// alive reports whether the current incarnation is still running.
func (h *host) alive() bool {
	if h.exited == nil {
		return false
	}
	select {
	case <-h.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL to the current incarnation and waits until it is gone.
func (h *host) kill() time.Time {
	h.t.Helper()
	if !h.alive() {
		h.t.Fatalf("crashhost incarnation %d died by itself before the test killed it\n%s", h.n, h.tail(40))
	}
	at := time.Now()
	h.killNow()
	select {
	case <-h.exited:
	case <-time.After(10 * time.Second):
		h.t.Fatalf("crashhost pid %d still running 10 s after SIGKILL", h.cmd.Process.Pid)
	}
	return at
}

func (h *host) killNow() {
	if h.cmd != nil && h.cmd.Process != nil {
		_ = syscall.Kill(h.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// stop ends the current incarnation cleanly (SIGTERM), killing it if it
// takes more than 15 s.
func (h *host) stop() {
	if !h.alive() {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
	case <-time.After(15 * time.Second):
		h.t.Logf("crashhost did not stop within 15 s of SIGTERM; killing it")
		h.killNow()
		<-h.exited
	}
}

// tail returns the last n lines of the current incarnation's log.
func (h *host) tail(n int) string {
	if len(h.logs) == 0 {
		return ""
	}
	return tailFile(h.logs[len(h.logs)-1], n)
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("--- %s (last %d lines)\n%s", filepath.Base(path), len(lines), strings.Join(lines, "\n"))
}

// conn is the test's own connection to the host's server. It is dropped
// when the host is killed and opened again after each restart; callers wait
// in get until a connection is available.
type conn struct {
	mu     sync.Mutex
	nc     *nats.Conn
	store  *jetstream.Store
	client *engine.Client
	ready  chan struct{} // closed while a connection is available
}

func newConn() *conn { return &conn{ready: make(chan struct{})} }

// open connects to url, retrying until ctx ends.
func (c *conn) open(ctx context.Context, url string) error {
	opts := jetstream.Options{Name: "crashtest"}
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		nc, err := jetstream.Connect(cctx, url, opts)
		if err == nil {
			var st *jetstream.Store
			st, err = jetstream.Open(cctx, nc, opts)
			if err == nil {
				cancel()
				c.mu.Lock()
				c.nc, c.store = nc, st
				c.client = engine.NewClient(st, engine.ClientOptions{Identity: "crashtest"})
				close(c.ready)
				c.mu.Unlock()
				return nil
			}
			nc.Close()
		}
		cancel()
		select {
		case <-ctx.Done():
			return fmt.Errorf("connecting to %s: %w", url, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// drop closes the connection; calls in flight fail at once.
func (c *conn) drop() {
	c.mu.Lock()
	nc, st := c.nc, c.store
	if c.client != nil {
		c.ready = make(chan struct{})
	}
	c.nc, c.store, c.client = nil, nil, nil
	c.mu.Unlock()
	if st != nil {
		_ = st.Close()
	}
	if nc != nil {
		nc.Close()
	}
}

// get returns the current client and store, waiting for one if the host is
// down.
func (c *conn) get(ctx context.Context) (*engine.Client, *jetstream.Store, error) {
	for {
		c.mu.Lock()
		cl, st, ready := c.client, c.store, c.ready
		c.mu.Unlock()
		if cl != nil {
			return cl, st, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// natsConn returns the current NATS connection (nil if down).
func (c *conn) natsConn() *nats.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc
}

// runState is what one run's history says so far.
type runState struct {
	events    []engine.Event
	acts      int
	timerAt   time.Time // TimerStarted.FireAt, zero if not started
	fired     bool
	completed bool
}

// snapshot is the progress of all runs, read from their histories.
type snapshot struct {
	at                                                    time.Time
	started, acts, timersStarted, timersFired, completed int
	pending                                               map[string]time.Time // run with a started, unfired timer -> fire at
}

func (s snapshot) String() string {
	return fmt.Sprintf("%d runs started, %d activities completed, %d timers started (%d pending), %d fired, %d runs completed",
		s.started, s.acts, s.timersStarted, len(s.pending), s.timersFired, s.completed)
}

func stateOf(events []engine.Event) runState {
	st := runState{events: events}
	for _, e := range events {
		switch a := e.Attrs.(type) {
		case *engine.ActivityCompleted:
			st.acts++
		case *engine.TimerStarted:
			st.timerAt = a.FireAt
		case *engine.TimerFired:
			st.fired = true
		case *engine.WorkflowCompleted:
			st.completed = true
		}
	}
	return st
}

// poll reads every run's history (16 at a time).
func poll(ctx context.Context, c *conn, ids []string) (snapshot, map[string]runState, error) {
	client, _, err := c.get(ctx)
	if err != nil {
		return snapshot{}, nil, err
	}
	states := make(map[string]runState, len(ids))
	var mu sync.Mutex
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				events, err := client.History(ctx, id, "")
				mu.Lock()
				switch {
				case errors.Is(err, engine.ErrWorkflowNotFound):
				case err != nil:
					if firstErr == nil {
						firstErr = fmt.Errorf("history of %s: %w", id, err)
					}
				default:
					states[id] = stateOf(events)
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return snapshot{}, nil, firstErr
	}
	s := snapshot{at: time.Now(), pending: map[string]time.Time{}}
	for id, st := range states {
		s.started++
		s.acts += st.acts
		if !st.timerAt.IsZero() {
			s.timersStarted++
			if !st.fired {
				s.pending[id] = st.timerAt
			}
		}
		if st.fired {
			s.timersFired++
		}
		if st.completed {
			s.completed++
		}
	}
	return s, states, nil
}

// waitFor polls the runs until cond holds, failing the test after timeout
// or if the host dies by itself.
func waitFor(t *testing.T, h *host, c *conn, ids []string, what string, timeout time.Duration, cond func(snapshot) bool) (snapshot, map[string]runState) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last snapshot
	var lastErr error
	for {
		if !h.alive() {
			t.Fatalf("crashhost incarnation %d died by itself while waiting for %s\n%s", h.n, what, h.tail(40))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, states, err := poll(ctx, c, ids)
		cancel()
		if err == nil {
			last = s
			if cond(s) {
				return s, states
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %v (last poll error: %v)\n%s", timeout, what, last, lastErr, h.tail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitUntil polls cond (cheap, in-process) every millisecond until it holds.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}
