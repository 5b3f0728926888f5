package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility"
)

// The search index benchmark (issue #3): build an index of cfg.indexRuns
// executions from realistic histories (index_histories.go), query it, weigh
// it, and measure its lag while the engine runs 1,000 workflows/s. Run in
// --sync interval only: with --sync always neither a million histories nor
// 1,000 wf/s are within reach of this machine (the throughput metric says
// ~100 wf/s), and nothing the index does depends on the mode.

const (
	indexLoadRate = 1000 // workflows started per second during the lag measurement
	deepPageDepth = 100_000
)

// benchQueries are the six representative queries, by metric suffix.
var benchQueries = []struct {
	name, what string
}{
	{"status_type", "status:running type:OrderFulfillment, newest first"},
	{"time_range", "start_time in the last 24 h, newest first"},
	{"phrase", `failure:"card declined", newest first`},
	{"id_prefix", "workflow_id:order-00012*, newest first"},
	{"count_status", "count of every run grouped by status"},
	{"deep_page", "status:completed, newest first, the page after the first 100,000"},
}

func init() {
	allMetrics = append(allMetrics,
		metric{name: "index_runs_per_s", unit: "runs/s", group: "index", target: ">= 5000", ok: func(v float64) bool { return v >= 5000 }})
	for _, q := range benchQueries {
		allMetrics = append(allMetrics,
			metric{name: "query_p50_ms_" + q.name, unit: "ms", group: "index"},
			metric{name: "query_p99_ms_" + q.name, unit: "ms", group: "index", target: "<= 50", ok: func(v float64) bool { return v <= 50 }})
	}
	allMetrics = append(allMetrics,
		metric{name: "index_lag_p99_ms", unit: "ms", group: "index", target: "<= 500", ok: func(v float64) bool { return v <= 500 }},
		metric{name: "index_bytes_per_run", unit: "B", group: "index"},
		metric{name: "rss_1m_index_mb", unit: "MB", group: "index"})
	groups = append(groups, "index")
}

// indexRep runs the whole index benchmark once.
func (e *env) indexRep(ctx context.Context, rep int) (map[string]float64, error) {
	if e.mode != jetstream.SyncInterval {
		e.notes = append(e.notes, fmt.Sprintf("sync %s: index metrics not measured (they are measured with --sync interval)", e.mode))
		return map[string]float64{}, nil
	}
	out := map[string]float64{}
	runs := e.cfg.indexRuns
	st := e.stores[len(e.stores)-1]

	t0 := time.Now()
	last, msgs, err := writeHistories(ctx, st, runs, 64, func(done int) { e.logf("    writing histories: %d of %d runs", done, runs) })
	if err != nil {
		return nil, err
	}
	e.logf("    wrote %d synthetic runs (%d history batches) in %.1fs", runs, msgs, time.Since(t0).Seconds())
	if err := e.historyConsumersIdle(ctx); err != nil {
		return nil, err
	}

	// Build: the index engine starts on an empty index and applies the
	// whole history (the synthetic runs and the earlier metrics' runs).
	dir := filepath.Join(e.dir, "index")
	profile := ""
	if e.cfg.cpuProfile != "" {
		profile = profilePath(e.cfg.cpuProfile, shapeInProcess, "index-build")
		e.notes = append(e.notes, "cpu profile of the index build: "+profile)
	}
	c, err := startIndexChild(e.srv.ClientURL(), dir, e.cfg.verbose, profile)
	if err != nil {
		return nil, err
	}
	defer c.kill()
	c0 := c.cpuSnap()
	built, err := c.ask(fmt.Sprintf("wait %d", last))
	if err != nil {
		return nil, err
	}
	buildCPU := cpuBetween(c0, c.cpuSnap())
	e.noteShared("index build", rep, buildCPU)
	out["index_runs_per_s"] = float64(built.Docs) / built.TookS
	e.notes = append(e.notes, fmt.Sprintf("index build: %d runs (%d synthetic, the rest from the earlier metrics), %d history batches, in %.1f s, by the indexer reading JetStream in another process; cores busy: index engine %.2f, this process (the NATS server serving the history) %.2f",
		built.Docs, runs, last, built.TookS, buildCPU.child, buildCPU.self-buildCPU.child))
	e.logf("    indexed %d runs in %.1fs", built.Docs, built.TookS)

	// Queries, through the search API as the console sends them: a first
	// pass right after the build (a note: cold caches, and the build's
	// segment merges may still run), then a second once no shard has
	// merged for a second (the figures: the steady state operators query).
	client := visibility.NewClient(st)
	samples := 200
	if e.cfg.quick {
		samples = 20
	}
	merging, err := e.queryLatencies(ctx, client, int(built.Docs), samples)
	if err != nil {
		return nil, err
	}
	settled, err := c.ask("settle")
	if err != nil {
		return nil, err
	}
	c0 = c.cpuSnap()
	lat, err := e.queryLatencies(ctx, client, int(built.Docs), samples)
	if err != nil {
		return nil, err
	}
	e.noteShared("index queries", rep, cpuBetween(c0, c.cpuSnap()))
	var during []string
	for _, q := range benchQueries {
		out["query_p50_ms_"+q.name], out["query_p99_ms_"+q.name] = lat[q.name][0], lat[q.name][1]
		during = append(during, fmt.Sprintf("%s %.1f/%.1f", q.name, merging[q.name][0], merging[q.name][1]))
	}
	e.notes = append(e.notes, fmt.Sprintf("queries, first pass right after the build (cold caches; the last merge ended %.1f s after it), p50/p99 ms: %s",
		settled.TookS, strings.Join(during, ", ")))
	var qs []string
	for _, q := range benchQueries {
		qs = append(qs, q.name+" = "+q.what)
	}
	e.notes = append(e.notes, fmt.Sprintf("queries (%d runs indexed, %d samples each, one at a time, over NATS to the index engine): %v", built.Docs, samples, qs))

	mem, err := c.ask("mem")
	if err != nil {
		return nil, err
	}
	out["rss_1m_index_mb"] = float64(mem.RSSKB) / 1024
	e.notes = append(e.notes, fmt.Sprintf("rss_1m_index_mb: the index engine process (index of %d runs open, indexer and search API running, after the queries; the NATS server is in another process): heap in use %.0f MB; %.0f MB of the RSS are pages of the index's memory-mapped segment files",
		mem.Docs, float64(mem.HeapInuse)/(1<<20), float64(mem.FileKB)/1024))

	// Lag under load: the engine runs ThreeActs at 1,000 starts/s.
	c0 = c.cpuSnap()
	if _, err := c.ask("lag-start"); err != nil {
		return nil, err
	}
	d := 15 * time.Second
	if e.cfg.quick {
		d = 2 * time.Second
	}
	rate, err := e.steadyLoad(ctx, indexLoadRate, d)
	if err != nil {
		return nil, err
	}
	seq, err := st.LastHistorySeq(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.ask(fmt.Sprintf("wait %d", seq)); err != nil {
		return nil, err
	}
	lag, err := c.ask("lag-stop")
	if err != nil {
		return nil, err
	}
	e.noteShared("index lag", rep, cpuBetween(c0, c.cpuSnap()))
	if lag.LagN == 0 {
		return nil, errors.New("no batch applied during the lag measurement")
	}
	out["index_lag_p99_ms"] = lag.LagP99
	e.notes = append(e.notes, fmt.Sprintf("index lag: %.0f workflows/s started for %s (target %d), %d history batches applied in %d index writes (%.0f run documents each); lag (stored → searchable) p50 %.0f ms, p99 %.0f ms, max %.0f ms",
		rate, d, indexLoadRate, lag.LagN, lag.Windows, float64(lag.WindowDocs)/float64(max(lag.Windows, 1)), lag.LagP50, lag.LagP99, lag.LagMax))

	final, err := c.close()
	if err != nil {
		return nil, err
	}
	bytes, err := dirBytes(dir)
	if err != nil {
		return nil, err
	}
	out["index_bytes_per_run"] = float64(bytes) / float64(max(final.Docs, 1))
	e.logf("    index: %d runs, %.0f MB on disk", final.Docs, float64(bytes)/(1<<20))
	return out, nil
}

// queryLatencies runs each bench query samples times, one at a time
// (after 5 warm-up runs): its p50 and p99 in ms.
func (e *env) queryLatencies(ctx context.Context, client *visibility.Client, docs, samples int) (map[string][2]float64, error) {
	out := map[string][2]float64{}
	for _, q := range benchQueries {
		run, err := e.benchQuery(ctx, client, q.name, docs)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", q.name, err)
		}
		var ds []time.Duration
		for i := range samples + 5 {
			t := time.Now()
			if err := run(ctx); err != nil {
				return nil, fmt.Errorf("query %s: %w", q.name, err)
			}
			if i >= 5 { // warm-up
				ds = append(ds, time.Since(t))
			}
		}
		out[q.name] = [2]float64{percentile(ds, 50), percentile(ds, 99)}
	}
	return out, nil
}

// benchQuery returns a function running query name once (checking that it
// finds what the data holds).
func (e *env) benchQuery(ctx context.Context, c *visibility.Client, name string, docs int) (func(context.Context) error, error) {
	search := func(req visibility.SearchRequest, wantHits bool) func(context.Context) error {
		return func(ctx context.Context) error {
			res, err := c.Search(ctx, req)
			if err == nil && wantHits && len(res.Hits) == 0 {
				err = fmt.Errorf("%q found nothing", req.Query)
			}
			return err
		}
	}
	switch name {
	case "status_type":
		return search(visibility.SearchRequest{Query: "status:running type:OrderFulfillment"}, true), nil
	case "time_range":
		return search(visibility.SearchRequest{Query: "start_time:>now-24h", Sort: []string{"-start_time"}}, true), nil
	case "phrase":
		return search(visibility.SearchRequest{Query: `failure:"card declined"`}, true), nil
	case "id_prefix":
		return search(visibility.SearchRequest{Query: "workflow_id:order-00012*"}, true), nil
	case "count_status":
		return func(ctx context.Context) error {
			res, err := c.Count(ctx, visibility.CountRequest{GroupBy: "status"})
			if err == nil && len(res.Groups) < 3 {
				err = fmt.Errorf("count by status: %+v", res)
			}
			return err
		}, nil
	case "deep_page":
		// Walk to the page after deepPageDepth (or half the completed runs
		// of a smaller index) once; then fetch that page.
		req := visibility.SearchRequest{Query: "status:completed", Size: visibility.MaxPageSize}
		depth := min(deepPageDepth, docs/3)
		for seen := 0; seen < depth; {
			res, err := c.Search(ctx, req)
			if err != nil {
				return nil, err
			}
			if len(res.Next) == 0 {
				break
			}
			seen += len(res.Hits)
			req.After = res.Next
		}
		req.Size = visibility.DefaultPageSize
		return search(req, true), nil
	}
	return nil, fmt.Errorf("unknown query %s", name)
}

// historyConsumersIdle waits until every durable consumer of history (the
// dispatcher, the bench's observer) has handled everything, so that the
// index build does not share the machine with them.
func (e *env) historyConsumersIdle(ctx context.Context) error {
	js, err := natsjs.New(e.conns[0])
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, jetstream.HistoryStream)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		busy := false
		for info := range stream.ListConsumers(ctx).Info() {
			if info.Config.Durable != "" && (info.NumPending > 0 || info.NumAckPending > 0) {
				busy = true
			}
		}
		if !busy {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("history consumers did not catch up with the synthetic histories")
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// steadyLoad starts ThreeActs runs at rate per second for d (without
// waiting for them), then waits for the last ones to close; it returns the
// rate achieved.
func (e *env) steadyLoad(ctx context.Context, rate int, d time.Duration) (float64, error) {
	const tick = 10 * time.Millisecond
	perTick := rate * int(tick) / int(time.Second)
	sem := make(chan struct{}, 512)
	var started atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	var lastID atomic.Value
	t := time.NewTicker(tick)
	defer t.Stop()
	t0 := time.Now()
	for n := 0; time.Since(t0) < d; {
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		for range perTick {
			n++
			id := fmt.Sprintf("lag-%d", n)
			select {
			case sem <- struct{}{}:
			default:
				continue // the engine cannot keep up: this start is skipped
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if _, err := e.client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: benchQueue}, ThreeActs, nil); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				started.Add(1)
				lastID.Store(id)
			}()
		}
	}
	elapsed := time.Since(t0)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	if id, ok := lastID.Load().(string); ok {
		wctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		if err := e.client.GetResult(wctx, id, "", nil); err != nil {
			return 0, err
		}
	}
	return float64(started.Load()) / elapsed.Seconds(), nil
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}
