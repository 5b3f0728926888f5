package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// The deployed shape (issue #21): what a user runs. The real foreman-engine
// binary (built from ./cmd/engine) is one process: embedded nats-server,
// engine services, search indexer and search API, with its default
// options but --sync, --data and --listen. This process is the user's:
// a worker and a client connected over loopback TCP, using only the public
// SDK (engine.NewWorker, Client.Start, Client.GetResult).

const (
	shapeDeployed  = "deployed"
	shapeInProcess = "in-process"
)

// shapeGroups are the metric groups each shape measures.
var shapeGroups = map[string][]string{
	shapeDeployed:  {"latency", "throughput", "update"},
	shapeInProcess: {"latency", "signal", "throughput", "rss", "index", "update", "schedule"},
	shapeCluster:   {"cluster"},
}

// engineProc is a running foreman-engine.
type engineProc struct {
	cmd        *exec.Cmd
	url        string
	metricsURL string     // with -with-metrics
	exit       chan error // the result of cmd.Wait, once
}

// engineBinary returns the foreman-engine to run: cfg.engineBin, else one
// built now from this module's ./cmd/engine into dir.
func engineBinary(ctx context.Context, cfg *config, dir string) (string, error) {
	if cfg.engineBin != "" {
		return cfg.engineBin, nil
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module to build foreman-engine: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(dir, "foreman-engine")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/engine")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building foreman-engine: %w\n%s", err, out)
	}
	return bin, nil
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEngine runs bin with its data in dataDir, listening on a free
// loopback port.
func startEngine(bin, dataDir, mode string, verbose, withMetrics bool) (*engineProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("finding a port for foreman-engine: %w", err)
	}
	level := "error"
	if verbose {
		level = "warn"
	}
	args := []string{"--data", dataDir, "--listen", "127.0.0.1:" + strconv.Itoa(port), "--sync", mode, "--log-level", level}
	metricsURL := ""
	if withMetrics {
		mport, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("finding a port for foreman-engine's metrics: %w", err)
		}
		args = append(args, "--metrics-listen", strconv.Itoa(mport))
		metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting foreman-engine: %w", err)
	}
	p := &engineProc{cmd: cmd, url: fmt.Sprintf("nats://127.0.0.1:%d", port), metricsURL: metricsURL, exit: make(chan error, 1)}
	go func() { p.exit <- cmd.Wait() }()
	return p, nil
}

// stop ends the engine as an operator does (SIGTERM), killing it if it
// has not exited within 20 s.
func (p *engineProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exit:
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exit
		return errors.New("foreman-engine did not stop within 20 s of SIGTERM; killed")
	}
}

// connect connects to the engine once it listens (it first opens its data
// directory and index).
func (p *engineProc) connect(ctx context.Context, opts jetstream.Options) (*nats.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		nc, err := jetstream.Connect(cctx, p.url, opts)
		ccancel()
		if err == nil {
			return nc, nil
		}
		select {
		case err := <-p.exit:
			p.exit <- err
			return nil, fmt.Errorf("foreman-engine exited before accepting connections: %v", err)
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to foreman-engine at %s: %w", p.url, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startDeployedEnv starts foreman-engine for one sync mode and connects
// this process's worker and client to it.
func startDeployedEnv(ctx context.Context, cfg *config, mode string) (_ *env, err error) {
	e := &env{shape: shapeDeployed, mode: mode, cfg: cfg, log: benchLogger(cfg.verbose), bgErr: make(chan error, 4)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = dataDir(cfg, "deployed-"+mode); err != nil {
		return e, err
	}
	bin, err := engineBinary(ctx, cfg, e.dir)
	if err != nil {
		return e, err
	}
	if e.engine, err = startEngine(bin, filepath.Join(e.dir, "data"), mode, cfg.verbose, cfg.withMetrics); err != nil {
		return e, err
	}
	ctx, e.cancel = context.WithCancel(ctx)
	names := []string{"bench-worker", "bench-client"}
	if cfg.sharedConn {
		names = []string{"bench-app"}
	}
	for _, name := range names {
		o := jetstream.Options{Name: name, Logger: e.log}
		nc, err := e.engine.connect(ctx, o)
		if err != nil {
			return e, err
		}
		e.conns = append(e.conns, nc)
		octx, ocancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := jetstream.Open(octx, nc, o)
		ocancel()
		if err != nil {
			return e, err
		}
		e.stores = append(e.stores, st)
	}
	wkStore, clStore := e.stores[0], e.stores[len(e.stores)-1]
	// Ready once its search API answers (the services start right after).
	e.search = searchapi.NewClient(clStore)
	if err := waitSearch(ctx, e.search); err != nil {
		return e, err
	}
	return e, e.startApp(ctx, wkStore, clStore, e.metricsOn(ctx))
}

func waitSearch(ctx context.Context, c *searchapi.Client) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Lag(lctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("foreman-engine's search API did not answer: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sampleLag asks the engine's search API for the index lag every interval
// until stop, which returns the samples (an error if every request
// failed): the lag the console would show meanwhile.
func sampleLag(ctx context.Context, c *searchapi.Client, every time.Duration) (stop func() ([]time.Duration, error)) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var lags []time.Duration
	var firstErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			l, err := c.Lag(ctx)
			mu.Lock()
			if err != nil && firstErr == nil && ctx.Err() == nil {
				firstErr = err
			}
			if err == nil {
				lags = append(lags, time.Duration(l.LagMS*float64(time.Millisecond)))
			}
			mu.Unlock()
		}
	}()
	return func() ([]time.Duration, error) {
		cancel()
		<-done
		if len(lags) == 0 && firstErr != nil {
			return nil, fmt.Errorf("index lag: %w", firstErr)
		}
		return lags, nil
	}
}
