package main

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// waitTimeout bounds every single wait: a stuck workflow fails the run
// instead of hanging it.
const waitTimeout = 60 * time.Second

// closeWaiter returns a function that waits until the workflow id (about to
// be started) is observed closed, and returns when.
func (e *env) closeWaiter(ctx context.Context, id string) func(runID string) (time.Time, error) {
	if e.obs == nil || e.cfg.observe == observeGetResult {
		return func(runID string) (time.Time, error) {
			wctx, cancel := context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			if err := e.client.GetResult(wctx, id, runID, nil); err != nil {
				return time.Time{}, fmt.Errorf("result of %s: %w", id, err)
			}
			return time.Now(), nil
		}
	}
	ch := e.obs.expect(id, isClosed)
	return func(string) (time.Time, error) { return waitFor(ctx, ch, waitTimeout, id+" closed") }
}

// startThreeActs starts a ThreeActs run and waits until it closed. It
// returns how long Start took and how long until the close was observed.
func (e *env) startThreeActs(ctx context.Context, id string) (sample, error) {
	wait := e.closeWaiter(ctx, id)
	t0 := time.Now()
	run, err := e.client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: benchQueue}, ThreeActs, nil)
	t1 := time.Now()
	if err != nil {
		if e.obs != nil {
			e.obs.forget(id)
		}
		return sample{}, err
	}
	end, err := wait(run.RunID)
	if err != nil {
		return sample{}, err
	}
	return sample{runID: run.RunID, t0: t0, started: t1, observed: end}, nil
}

// sample is one timed ThreeActs run.
type sample struct {
	runID                 string
	t0, started, observed time.Time
}

// latencyRep measures Start and end-to-end latency of ThreeActs, one run at
// a time on an otherwise idle deployment.
func (e *env) latencyRep(ctx context.Context, rep int) (map[string]float64, error) {
	var starts, e2es []time.Duration
	var samples []sample
	c0 := e.cpuSnap()
	defer func() { e.noteShared("latency", rep, cpuBetween(c0, e.cpuSnap())) }()
	for i := range e.cfg.warmup + e.cfg.samples {
		s, err := e.startThreeActs(ctx, fmt.Sprintf("lat-%d-%d", rep, i))
		if err != nil {
			return nil, err
		}
		if i >= e.cfg.warmup {
			starts, e2es = append(starts, s.started.Sub(s.t0)), append(e2es, s.observed.Sub(s.t0))
			samples = append(samples, s)
		}
	}
	if rep == e.cfg.latencyReps-1 {
		if err := e.breakdown(ctx, samples); err != nil {
			return nil, err
		}
	}
	if rep == 0 { // the runs really did their work
		var v int
		if err := e.client.GetResult(ctx, fmt.Sprintf("lat-%d-0", rep), "", &v); err != nil || v != threeActsResult {
			return nil, fmt.Errorf("ThreeActs result %d, %v; want %d", v, err, threeActsResult)
		}
	}
	return map[string]float64{
		"start_p50_ms":    percentile(starts, 50),
		"e2e_3act_p50_ms": percentile(e2es, 50),
		"e2e_3act_p99_ms": percentile(e2es, 99),
	}, nil
}

// signalRep measures, for a run blocked on a signal channel, the time from
// calling Signal to the run's next history batch (its workflow task
// receiving the signal and completing the run) being observed.
func (e *env) signalRep(ctx context.Context, rep int) (map[string]float64, error) {
	var ds []time.Duration
	for i := range e.cfg.warmup + e.cfg.signalSamples {
		id := fmt.Sprintf("sig-%d-%d", rep, i)
		blocked := e.obs.expect(id, isTask)
		reacted := e.obs.expect(id, func(h engine.BatchHeader) bool { return h.Kind == engine.BatchTask && h.Closed })
		if _, err := e.client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: benchQueue}, WaitSignal, nil); err != nil {
			e.obs.forget(id)
			return nil, err
		}
		if _, err := waitFor(ctx, blocked, waitTimeout, id+" blocked on its signal"); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := e.client.Signal(ctx, id, "", "go", i); err != nil {
			return nil, fmt.Errorf("signal %s: %w", id, err)
		}
		at, err := waitFor(ctx, reacted, waitTimeout, id+" reacting to its signal")
		if err != nil {
			return nil, err
		}
		if i >= e.cfg.warmup {
			ds = append(ds, at.Sub(t0))
		}
	}
	return map[string]float64{"signal_reaction_p50_ms": percentile(ds, 50)}, nil
}

// quickExtra bounds how long a -quick throughput repetition measures past
// its window while no run has closed.
const quickExtra = 30 * time.Second

// throughputRep runs ThreeActs from cfg.concurrency goroutines, each
// starting a run and waiting for it to close, over and over; it counts
// completions per second after a warm-up.
func (e *env) throughputRep(ctx context.Context, rep int) (map[string]float64, error) {
	before, _ := e.streamSeqs(ctx)
	var done atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, e.cfg.concurrency)
	for g := range e.cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if _, err := e.startThreeActs(ctx, fmt.Sprintf("tp-%d-%d-%d", rep, g, i)); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
		}()
	}
	sleep := func(d time.Duration) error {
		select {
		case <-time.After(d):
		case err := <-errs:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		return e.failed()
	}
	out := map[string]float64{}
	err := sleep(e.cfg.tpWarmup)
	if err == nil {
		var stopLag func() ([]time.Duration, error)
		if e.search != nil {
			stopLag = sampleLag(ctx, e.search, lagEvery)
		}
		// Count per second too, to show whether the rate is steady.
		n0, t0, c0, m0 := done.Load(), time.Now(), e.cpuSnap(), e.msgSnap()
		var perSec []string
		last, lastT := n0, t0
		// A smoke run (-quick) on a loaded machine may see no run close
		// in its short window: it measures on until one does (a figure of
		// 0 says nothing), for at most quickExtra more.
		measuring := func() bool {
			since := time.Since(t0)
			return since < e.cfg.duration || (e.cfg.quick && done.Load() == n0 && since < e.cfg.duration+quickExtra)
		}
		for err == nil && measuring() {
			err = sleep(max(min(time.Second, e.cfg.duration-time.Since(t0)), 100*time.Millisecond))
			n, now := done.Load(), time.Now()
			perSec = append(perSec, fmt.Sprintf("%.0f", float64(n-last)/now.Sub(lastT).Seconds()))
			last, lastT = n, now
		}
		c1, m1 := e.cpuSnap(), e.msgSnap()
		out["throughput_3act_wf_per_s"] = float64(last-n0) / lastT.Sub(t0).Seconds()
		if last > n0 && rep == 0 {
			e.notes = append(e.notes, m1.since(m0).perRun(e, float64(last-n0)))
		}
		if last > n0 {
			out["cpu_per_wf_ms"] = ms(c1.self-c0.self) / float64(last-n0)
		}
		use := cpuBetween(c0, c1)
		if e.cfg.verbose || !e.cfg.quick {
			of := ""
			if e.engine != nil {
				of = fmt.Sprintf(" (foreman-engine %.2f)", use.child)
			}
			e.logf("    per second: %s; cpu: deployment %.2f cores%s, other processes %.2f cores (of %d)",
				strings.Join(perSec, " "), use.self, of, use.others, runtime.NumCPU())
		}
		e.noteShared("throughput", rep, use)
		if stopLag != nil {
			lags, lerr := stopLag()
			if lerr != nil {
				err = cmp.Or(err, lerr)
			} else {
				out["index_lag_p99_ms"] = percentile(lags, 99)
				e.logf("    index lag (search API, every %s): p50 %.1f ms, p99 %.1f ms over %d samples",
					lagEvery, percentile(lags, 50), percentile(lags, 99), len(lags))
			}
		}
	}
	stop.Store(true)
	wg.Wait() // in-flight runs finish: the next repetition starts idle
	close(errs)
	if err == nil {
		err = <-errs
	}
	if err != nil {
		return nil, err
	}
	if after, err := e.streamSeqs(ctx); err == nil && rep == 0 && done.Load() > 0 {
		var parts []string
		for _, name := range streamNames {
			parts = append(parts, fmt.Sprintf("%s %.2f", name, float64(after[name]-before[name])/float64(done.Load())))
		}
		e.notes = append(e.notes, fmt.Sprintf("%s, sync %s, stream writes per ThreeActs run: %s", e.shape, e.mode, strings.Join(parts, ", ")))
	}
	return out, nil
}

// msgSnap counts the NATS messages of the deployment so far: over this
// process's connections, and (in process) through the whole server.
type msgSnap struct{ appIn, appOut, srvIn, srvOut uint64 }

func (e *env) msgSnap() msgSnap {
	var m msgSnap
	for _, nc := range e.conns {
		st := nc.Stats()
		m.appIn, m.appOut = m.appIn+st.InMsgs, m.appOut+st.OutMsgs
	}
	if e.srv != nil {
		if v, err := e.srv.NATSServer().Varz(nil); err == nil {
			m.srvIn, m.srvOut = uint64(v.InMsgs), uint64(v.OutMsgs)
		}
	}
	return m
}

func (m msgSnap) since(o msgSnap) msgSnap {
	return msgSnap{m.appIn - o.appIn, m.appOut - o.appOut, m.srvIn - o.srvIn, m.srvOut - o.srvOut}
}

// perRun says how many messages a run cost: a figure the machine's load
// does not change, unlike the rates.
func (m msgSnap) perRun(e *env, runs float64) string {
	s := fmt.Sprintf("%s, sync %s, NATS messages per ThreeActs run during the throughput run: this process's connections (worker, client; in process also the services) in %.2f, out %.2f",
		e.shape, e.mode, float64(m.appIn)/runs, float64(m.appOut)/runs)
	if e.srv != nil {
		s += fmt.Sprintf("; the whole server (every connection) in %.2f, out %.2f", float64(m.srvIn)/runs, float64(m.srvOut)/runs)
	}
	return s
}

// lagEvery is how often the index lag is asked for during a throughput run.
const lagEvery = 100 * time.Millisecond

// breakdown says where the end-to-end time of ThreeActs goes, from the
// times the store accepted each history batch (server and client share a
// clock here): Start until the first batch, the first workflow task, each
// activity round trip (task batch to task batch: dispatcher, activity
// worker, workflow task), and the close until it was observed.
func (e *env) breakdown(ctx context.Context, samples []sample) error {
	var first, wfTask, actRound, observe []time.Duration
	together := 0
	for _, s := range samples {
		bs, err := e.clientStore.ReadHistory(ctx, s.runID, 0)
		if err != nil {
			return err
		}
		if len(bs) == 0 {
			return fmt.Errorf("run %s: no history", s.runID)
		}
		first = append(first, bs[0].Time.Sub(s.t0))
		rounds := 2 // the first activity round begins with the first task's batch
		if withFirstTask(bs[0]) || len(bs) == 1 {
			rounds = 1 // an eager start stored its first task with it
			together++
		} else {
			wfTask = append(wfTask, bs[1].Time.Sub(bs[0].Time))
		}
		for i := rounds; i < len(bs); i++ {
			actRound = append(actRound, bs[i].Time.Sub(bs[i-1].Time))
		}
		observe = append(observe, s.observed.Sub(bs[len(bs)-1].Time))
	}
	firstTask := fmt.Sprintf("first workflow task %.2f ms", percentile(wfTask, 50))
	if len(wfTask) == 0 {
		firstTask = "first workflow task stored with the start"
	} else if together > 0 {
		firstTask += fmt.Sprintf(" (%d of %d runs stored it with the start)", together, len(samples))
	}
	rounds := fmt.Sprintf("%.2f later batches per run, each %.2f ms after the one before (dispatch, activities, workflow tasks; quick activities chained: engine/worker_chain.go)",
		float64(len(actRound))/float64(len(samples)), percentile(actRound, 50))
	if len(actRound) == 0 {
		rounds = "no later batch (the whole run chained into its first)"
	}
	e.notes = append(e.notes, fmt.Sprintf("%s, sync %s, e2e breakdown (p50): Start call to start batch %.2f ms, %s, %s, close batch to observed %.2f ms",
		e.shape, e.mode, percentile(first, 50), firstTask, rounds, percentile(observe, 50)))
	return nil
}

// withFirstTask tells whether a run's first batch holds its first workflow
// task as well as its start (an eager start, engine/local.go).
func withFirstTask(sb engine.StoredBatch) bool {
	b, err := engine.DecodeBatch(sb.Data)
	if err != nil {
		return false
	}
	for _, e := range b.Events {
		if e.Type == engine.EventWorkflowTaskCompleted {
			return true
		}
	}
	return false
}

// sharedCPU is how much CPU (in cores) other processes may use during a
// measurement before the figure is flagged as taken on a shared machine.
const sharedCPU = 0.25

// noteShared flags a repetition during which other processes used the CPU.
func (e *env) noteShared(what string, rep int, use cpuUse) {
	if use.others < sharedCPU {
		return
	}
	e.notes = append(e.notes, fmt.Sprintf("WARNING %s, sync %s, %s repetition %d: other processes used %.2f cores meanwhile (the deployment %.2f): the machine was shared, the figure is pessimistic",
		e.shape, e.mode, what, rep+1, use.others, use.self))
}

// streamNames are the streams whose writes per run are reported.
var streamNames = []string{jetstream.HistoryStream, jetstream.TasksStream, "KV_" + jetstream.RunsBucket}

// streamSeqs returns the last sequence of each stream in streamNames.
func (e *env) streamSeqs(ctx context.Context) (map[string]uint64, error) {
	js, err := natsjs.New(e.conns[0])
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, name := range streamNames {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return nil, err
		}
		out[name] = st.CachedInfo().State.LastSeq
	}
	return out, nil
}
