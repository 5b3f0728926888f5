package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility"
)

// The index benchmark runs the engine's search side — the index, its
// indexer and the search API — in a child process (this binary re-executed
// with FOREMAN_BENCH_ROLE=index-engine), as foreman-engine runs them, so
// that its memory is measured alone and queries travel over NATS as the
// console's do. The embedded server, engine services, worker and client
// stay in the parent.

const (
	roleIndex       = "index-engine"
	envIndexDir     = "FOREMAN_BENCH_INDEX_DIR"
	envIndexProfile = "FOREMAN_BENCH_INDEX_PROFILE"
)

func init() {
	// Before main (and before the test binary's TestMain): the child role.
	if os.Getenv(envRole) == roleIndex {
		os.Exit(indexChildMain())
	}
}

// indexChildAnswer is the child's reply to a command.
type indexChildAnswer struct {
	Error   string  `json:"error,omitempty"`
	Applied uint64  `json:"applied,omitempty"`
	Docs    uint64  `json:"docs,omitempty"`
	TookS   float64 `json:"took_s,omitempty"`
	// mem
	RSSKB     int64  `json:"rss_kb,omitempty"`
	FileKB    int64  `json:"file_kb,omitempty"` // of RSSKB: pages of mapped files (the index's segments)
	HeapInuse uint64 `json:"heap_inuse,omitempty"`
	// lag (ms)
	LagP50, LagP99, LagMax float64
	LagN                   int
	Windows                int
	WindowDocs             int
}

// indexChildMain opens the index in $FOREMAN_BENCH_INDEX_DIR, indexes the
// history of the server at $FOREMAN_BENCH_NATS from where the index stands,
// serves the search API, and answers on stdin:
//
//	wait SEQ   once history up to SEQ is applied: the time since indexing began
//	mem        RSS after a GC
//	settle     return once the index has not merged segments for a second
//	lag-start  record the lag of every batch applied from now on
//	lag-stop   stop recording; percentiles of the recorded lags
//
// On EOF it closes the index (persisting it) and reports the documents.
func indexChildMain() int {
	out := json.NewEncoder(os.Stdout)
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "index engine:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := benchLogger(os.Getenv("FOREMAN_BENCH_VERBOSE") != "")
	opts := jetstream.Options{Name: "bench-index-engine", Logger: log}
	st, closeStore, err := openChildStore(ctx, opts)
	if err != nil {
		return fail(err)
	}
	defer closeStore()
	ix, err := visibility.OpenIndex(os.Getenv(envIndexDir), log)
	if err != nil {
		return fail(err)
	}

	var mu sync.Mutex
	recording := false
	var lags []time.Duration
	windows, windowDocs := 0, 0
	notify, stopNotify := visibility.UpdateNotifier(st, 100*time.Millisecond)
	x := visibility.NewIndexer(ix, st, visibility.IndexerOptions{Logger: log, Notify: notify, OnApplied: func(w visibility.AppliedWindow) {
		mu.Lock()
		defer mu.Unlock()
		if !recording {
			return
		}
		windows++
		windowDocs += w.Docs
		for _, t := range w.Stored {
			lags = append(lags, w.At.Sub(t))
		}
	}})
	// A CPU profile of the build, when asked: it ends with the first wait.
	stopProfile := func() {}
	if path := os.Getenv(envIndexProfile); path != "" {
		if stopProfile, err = startCPUProfile(path); err != nil {
			return fail(err)
		}
	}
	start := time.Now()
	done := make(chan error, 1)
	ictx, stopIndexer := context.WithCancel(ctx)
	defer stopIndexer()
	go func() { done <- x.Run(ictx) }()
	stopServe, err := visibility.Serve(ix, st)
	if err != nil {
		return fail(err)
	}
	fmt.Println("ready")

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var a indexChildAnswer
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "wait":
			seq, _ := strconv.ParseUint(arg, 10, 64)
			if err := ix.WaitForSeq(ctx, seq); err != nil {
				a.Error = err.Error()
			}
			a.TookS = time.Since(start).Seconds()
			a.Applied = ix.AppliedSeq()
			a.Docs, _ = ix.DocCount()
			stopProfile()
			stopProfile = func() {}
		case "settle":
			// until no shard has merged for a second (at most two minutes);
			// TookS: until the last merge seen
			t0, quiet := time.Now(), time.Now()
			for time.Since(quiet) < time.Second && time.Since(t0) < 2*time.Minute {
				time.Sleep(50 * time.Millisecond)
				if ix.Merging() {
					quiet = time.Now()
				}
			}
			a.TookS = quiet.Sub(t0).Seconds()
		case "mem":
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			a.RSSKB, _ = statusKB("VmRSS:")
			a.FileKB, _ = statusKB("RssFile:")
			a.HeapInuse = m.HeapInuse
			a.Docs, _ = ix.DocCount()
		case "lag-start":
			mu.Lock()
			recording, lags, windows, windowDocs = true, nil, 0, 0
			mu.Unlock()
		case "lag-stop":
			mu.Lock()
			recording = false
			a.LagN, a.Windows, a.WindowDocs = len(lags), windows, windowDocs
			a.LagP50, a.LagP99 = percentile(lags, 50), percentile(lags, 99)
			if len(lags) > 0 {
				a.LagMax = ms(slices.Max(lags))
			}
			mu.Unlock()
		default:
			a.Error = "unknown command " + cmd
		}
		_ = out.Encode(a)
	}
	stopServe()
	stopIndexer()
	<-done
	stopNotify()
	docs, _ := ix.DocCount()
	if err := ix.Close(); err != nil {
		return fail(err)
	}
	_ = out.Encode(indexChildAnswer{Docs: docs, Applied: ix.AppliedSeq()})
	return 0
}

// indexChild is the parent's handle on the index engine process.
type indexChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
}

func startIndexChild(natsURL, dir string, verbose bool, profile string) (*indexChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envRole+"="+roleIndex, envNATS+"="+natsURL, envIndexDir+"="+dir)
	if verbose {
		cmd.Env = append(cmd.Env, "FOREMAN_BENCH_VERBOSE=1")
	}
	if profile != "" {
		cmd.Env = append(cmd.Env, envIndexProfile+"="+profile)
	}
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
	c := &indexChild{cmd: cmd, stdin: stdin, stdout: bufio.NewScanner(stdout)}
	c.stdout.Buffer(make([]byte, 1<<16), 1<<20)
	if !c.stdout.Scan() || c.stdout.Text() != "ready" {
		c.kill()
		return nil, fmt.Errorf("index engine did not start: %v", c.stdout.Err())
	}
	return c, nil
}

// ask sends a command and reads the answer (commands may take as long as
// the index build).
func (c *indexChild) ask(cmd string) (indexChildAnswer, error) {
	var a indexChildAnswer
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return a, err
	}
	if !c.stdout.Scan() {
		return a, fmt.Errorf("index engine exited: %v", c.stdout.Err())
	}
	if err := json.Unmarshal(c.stdout.Bytes(), &a); err != nil {
		return a, err
	}
	if a.Error != "" {
		return a, fmt.Errorf("index engine: %s: %s", cmd, a.Error)
	}
	return a, nil
}

// close ends the child gracefully (it persists the index) and returns its
// last answer.
func (c *indexChild) close() (indexChildAnswer, error) {
	var a indexChildAnswer
	_ = c.stdin.Close()
	if c.stdout.Scan() {
		_ = json.Unmarshal(c.stdout.Bytes(), &a)
	}
	return a, c.cmd.Wait()
}

// cpuSnap is takeCPUSnap with the index engine's CPU time counted as this
// process's: what the machine did besides is other work sharing it.
func (c *indexChild) cpuSnap() cpuSnap {
	s := takeCPUSnap()
	s.child = processCPU(c.cmd.Process.Pid)
	s.self += s.child
	return s
}

func (c *indexChild) kill() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}
