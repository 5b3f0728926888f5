package crashtest

import (
	"bufio"
	"context"
	"encoding/json"
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
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// TestMain points the config directory where the crash hosts leave their
// credentials (and the harness finds them) at a temporary one, never the
// user's.
func TestMain(m *testing.M) {
	remove, err := jstest.IsolateConfigDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	remove()
	os.Exit(code)
}

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
	live   context.Context // ends when the connection is dropped
	end    context.CancelFunc
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
				c.live, c.end = context.WithCancel(context.Background())
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
	nc, st, end := c.nc, c.store, c.end
	if c.client != nil {
		c.ready = make(chan struct{})
	}
	c.nc, c.store, c.client, c.live, c.end = nil, nil, nil, nil, nil
	c.mu.Unlock()
	if end != nil {
		end()
	}
	if st != nil {
		_ = st.Close()
	}
	if nc != nil {
		nc.Close()
	}
}

// session is one connection's client, store and NATS connection, with a
// context that ends when the connection is dropped.
type session struct {
	client *engine.Client
	store  *jetstream.Store
	nc     *nats.Conn
	live   context.Context
}

// get returns the current session, waiting for one while the host is down.
func (c *conn) get(ctx context.Context) (session, error) {
	for {
		c.mu.Lock()
		s := session{client: c.client, store: c.store, nc: c.nc, live: c.live}
		ready := c.ready
		c.mu.Unlock()
		if s.client != nil {
			return s, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return session{}, ctx.Err()
		}
	}
}

// progress counts events of every run, as appended to the history stream.
type progress struct {
	started, acts, timersStarted, timersFired, completed int
	latestFireAt                                         time.Time // latest due time of any started timer
	batches                                              int
}

func (p progress) pendingTimers() int { return p.timersStarted - p.timersFired }

func (p progress) String() string {
	return fmt.Sprintf("%d runs started, %d activities completed, %d timers started (%d pending), %d fired, %d runs completed",
		p.started, p.acts, p.timersStarted, p.pendingTimers(), p.timersFired, p.completed)
}

// observer follows the whole history stream with an ordered consumer
// (resuming after the last sequence seen on each reconnection), so the test
// can kill the host within milliseconds of a condition.
type observer struct {
	mu      sync.Mutex
	p       progress
	next    uint64 // next stream sequence to read
	bad     []string
	changed chan struct{}
}

func newObserver() *observer { return &observer{next: 1, changed: make(chan struct{})} }

func (o *observer) snapshot() (progress, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.p, o.changed
}

// run follows the stream through every connection until ctx ends.
func (o *observer) run(ctx context.Context, c *conn) {
	for {
		s, err := c.get(ctx)
		if err != nil {
			return
		}
		if err := o.follow(s); err != nil && s.live.Err() == nil {
			select { // a failure on a live connection: try again shortly
			case <-s.live.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func (o *observer) follow(s session) error {
	js, err := natsjs.New(s.nc)
	if err != nil {
		return err
	}
	o.mu.Lock()
	cfg := natsjs.OrderedConsumerConfig{DeliverPolicy: natsjs.DeliverByStartSequencePolicy, OptStartSeq: o.next}
	o.mu.Unlock()
	cons, err := js.OrderedConsumer(s.live, jetstream.HistoryStream, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		m, err := it.Next(natsjs.NextContext(s.live))
		if err != nil {
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		o.apply(md.Sequence.Stream, m.Data())
	}
}

func (o *observer) apply(seq uint64, data []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if seq < o.next {
		return
	}
	o.next = seq + 1
	o.p.batches++
	var b engine.Batch
	if err := json.Unmarshal(data, &b); err != nil {
		o.bad = append(o.bad, fmt.Sprintf("history stream seq %d: %v", seq, err))
		return
	}
	for _, e := range b.Events {
		switch a := e.Attrs.(type) {
		case *engine.WorkflowStarted:
			o.p.started++
		case *engine.ActivityCompleted:
			o.p.acts++
		case *engine.TimerStarted:
			o.p.timersStarted++
			if a.FireAt.After(o.p.latestFireAt) {
				o.p.latestFireAt = a.FireAt
			}
		case *engine.TimerFired:
			o.p.timersFired++
		case *engine.WorkflowCompleted:
			o.p.completed++
		}
	}
	close(o.changed)
	o.changed = make(chan struct{})
}

// waitFor waits until the observed progress satisfies cond, failing the
// test after timeout or if the host dies by itself.
func waitFor(t *testing.T, h *host, o *observer, what string, timeout time.Duration, cond func(progress) bool) progress {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p, changed := o.snapshot()
		if cond(p) {
			return p
		}
		if !h.alive() {
			t.Fatalf("crashhost incarnation %d died by itself while the test waited for %s\n%s", h.n, what, h.tail(40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; observed: %v\n%s", timeout, what, p, h.tail(40))
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
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

// errorLines returns the ERROR lines of a host log.
func errorLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}
