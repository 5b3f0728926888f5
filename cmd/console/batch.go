package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// A batch applies a write action to every run matching a query, through the
// operator batch runner (journaled, resumable with --batch-id, at most
// --rate per second with --parallel in flight). This file is its wiring:
// the matches come from the search API, one result per run goes to stdout
// and progress to stderr.

const (
	batchPage   = 200 // matches fetched per search request
	sampleSize  = 10  // runs shown by --dry-run
	progressGap = time.Second
)

// dryRunReport is what a batch --dry-run prints.
type dryRunReport struct {
	Action string          `json:"action"`
	Query  string          `json:"query"`
	Count  uint64          `json:"count"`
	Sample []searchapi.Doc `json:"sample"`
}

func (a *app) runBatch(ctx context.Context, cmd *command, o *opts, params []string) error {
	switch {
	case o.run != "":
		return usagef("--run names one run; with -q the runs come from the query")
	case o.rate < 0:
		return usagef("--rate %g: must be 0 (no limit) or more", o.rate)
	case o.parallel < 1 || o.parallel > 64:
		return usagef("--parallel %d: must be between 1 and 64", o.parallel)
	}
	if o.batchID != "" {
		if err := jetstream.CheckBatchID(o.batchID); err != nil {
			return usagef("--batch-id: %v", err)
		}
	}
	p, err := cmd.params(o, params, a.io.in)
	if err != nil {
		return err
	}
	s, err := a.searcher(ctx)
	if err != nil {
		return err
	}
	count, err := s.Count(ctx, searchapi.CountRequest{Query: o.query})
	if err != nil {
		return err
	}
	if o.dryRun {
		return a.printDryRun(ctx, s, cmd.name, o.query, count.Total)
	}
	if count.Total == 0 && o.batchID == "" {
		a.infof("no runs match %q: nothing to %s", o.query, cmd.name)
		if a.out.format == formatJSON {
			return list(a.out, []itemResult{}) // a result list, empty: `[]`
		}
		return nil
	}
	if err := a.confirm(fmt.Sprintf("%s %d runs matching %q?", cmd.name, count.Total, o.query)); err != nil {
		return err
	}
	if _, err := a.engine(ctx); err != nil {
		return err
	}
	j, err := a.journal(ctx)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	id := cmp.Or(o.batchID, operator.NewBatchID())
	pr := &batchPrinter{app: a, id: id, total: count.Total, started: time.Now()}
	r := &operator.Runner{Actions: a.actions, Journal: j, Identity: a.g.identity,
		Holder: fmt.Sprintf("%s (pid %d on %s)", a.g.identity, os.Getpid(), host),
		Rate:   o.rate, Parallel: o.parallel, ItemTimeout: cmp.Or(a.g.timeout, defaultTimeout),
		Logf: a.infof, OnResult: pr.result}
	b := operator.Batch{ID: id, Name: cmd.name, Query: o.query, Total: count.Total,
		Request: operator.Request{Action: cmd.entry(o, params).Name, Params: p}}
	sum, err := r.Run(ctx, b, searchPages(s, o.query))
	if err != nil {
		return err
	}
	return pr.finish(sum)
}

// searchPages reads the matches of query with the search-after cursor.
func searchPages(s searcher, query string) operator.Pages {
	return func(ctx context.Context, after []string) ([]operator.Target, []string, error) {
		res, err := s.Search(ctx, searchapi.SearchRequest{Query: query, Size: batchPage, After: after})
		if err != nil {
			return nil, nil, err
		}
		ts := make([]operator.Target, len(res.Hits))
		for i, d := range res.Hits {
			ts[i] = operator.Target{WorkflowID: d.WorkflowID, RunID: d.RunID}
		}
		return ts, res.Next, nil
	}
}

func (a *app) printDryRun(ctx context.Context, s searcher, verb, query string, n uint64) error {
	res, err := s.Search(ctx, searchapi.SearchRequest{Query: query, Size: sampleSize})
	if err != nil {
		return err
	}
	rep := dryRunReport{Action: verb, Query: query, Count: n, Sample: res.Hits}
	if rep.Sample == nil {
		rep.Sample = []searchapi.Doc{}
	}
	if a.out.format != formatTable {
		return a.out.value(rep)
	}
	fmt.Fprintf(a.io.out, "Dry run: %s would act on %d runs matching %q.\n", verb, n, query)
	if len(res.Hits) == 0 {
		return nil
	}
	fmt.Fprintf(a.io.out, "First %d:\n", len(res.Hits))
	return printDocs(a, res.Hits)
}

// batchPrinter prints a batch's results as they come and, now and then,
// its progress.
type batchPrinter struct {
	app     *app
	id      string
	total   uint64
	started time.Time

	mu           sync.Mutex
	collected    []itemResult // -o json prints one array at the end
	lastProgress time.Time
}

// result is called by the runner, one result at a time.
func (p *batchPrinter) result(res itemResult, c operator.Counts) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.app.out.format == formatJSON {
		p.collected = append(p.collected, res)
	} else if err := p.app.printResult(res); err != nil {
		p.app.infof("printing result: %v", err)
	}
	if now := time.Now(); now.Sub(p.lastProgress) >= progressGap {
		p.lastProgress = now
		rate := float64(c.Done) / max(now.Sub(p.started).Seconds(), 0.001)
		p.app.infof("batch %s: %d/%d done (%d ok, %d skipped, %d errors), %.0f/s",
			p.id, c.Done, max(p.total, uint64(c.Done)), c.OK, c.Skipped, c.Failed, rate)
	}
}

// finish prints the summary and turns the outcome into the command's error.
func (p *batchPrinter) finish(sum operator.Summary) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.app.out.format == formatJSON {
		if err := list(p.app.out, p.collected); err != nil {
			p.app.infof("printing results: %v", err)
		}
	}
	took := time.Since(p.started).Round(time.Millisecond)
	p.app.infof("batch %s: %d runs in %s: %d ok, %d skipped, %d errors", sum.ID, sum.Done, took, sum.OK, sum.Skipped, sum.Failed)
	if sum.Interrupted {
		return fmt.Errorf("interrupted after %d runs; resume by running the same command with --batch-id %s", sum.Done, sum.ID)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("batch %s: %d of %d runs failed (see the error lines)", sum.ID, sum.Failed, sum.Done)
	}
	return nil
}
