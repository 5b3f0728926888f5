package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// A batch applies a write action to every run matching a query: it pages
// through the matches with the search-after cursor, acts on each at most
// --rate per second with --parallel in flight, journals each run before and
// after acting (jetstream.Batches), prints one result per run on stdout and
// progress on stderr. Interrupted (Ctrl-C, kill -9, lost connection), it is
// resumed with the same --batch-id: runs already handled are skipped, and a
// run whose action was in flight when the batch died is settled from its
// history, so no run is ever acted on twice.

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
	act, err := cmd.act(o, params, a.io.in)
	if err != nil {
		return err
	}
	args, err := json.Marshal(act.params)
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
		return nil
	}
	if err := a.confirm(fmt.Sprintf("%s %d runs matching %q?", cmd.name, count.Total, o.query)); err != nil {
		return err
	}
	c, err := a.engine(ctx)
	if err != nil {
		return err
	}
	j, err := a.journal(ctx)
	if err != nil {
		return err
	}
	id := o.batchID
	if id == "" {
		id = "b-" + uuid.NewString()[:13]
	}
	b, resumed, err := j.Begin(ctx, jetstream.Batch{ID: id, Action: cmd.name, Query: o.query, Args: args, Identity: a.g.identity})
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	release, err := j.Hold(ctx, id, fmt.Sprintf("%s (pid %d on %s)", a.g.identity, os.Getpid(), host))
	if err != nil {
		return err
	}
	defer release()
	r := &batchRun{app: a, act: act, c: c, j: j, id: id, total: count.Total, itemTimeout: a.g.timeout,
		limit: newLimiter(o.rate), seen: map[string]bool{}, started: time.Now()}
	if r.itemTimeout == 0 {
		r.itemTimeout = defaultTimeout
	}
	if resumed {
		a.infof("resuming batch %s (%s over %q, started by %s at %s)", id, b.Action, b.Query, b.Identity, when(b.CreatedAt))
		if err := r.settleInterrupted(ctx); err != nil {
			return err
		}
	} else {
		a.infof("batch %s: %s %d runs matching %q (if interrupted, resume with --batch-id %s)", id, cmd.name, count.Total, o.query, id)
	}
	r.run(ctx, s, o)
	return r.finish(ctx)
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

// batchRun is one pass of a batch.
type batchRun struct {
	app         *app
	act         *action
	c           *engine.Client
	j           *jetstream.Batches
	id          string
	total       uint64
	itemTimeout time.Duration
	limit       *limiter
	started     time.Time

	mu                    sync.Mutex
	seen                  map[string]bool
	collected             []itemResult // -o json prints one array at the end
	done, ok, skip, fails int
	lastProgress          time.Time
}

// settleInterrupted decides, before anything else, each run whose action
// was in flight when an earlier attempt of the batch stopped: the history
// says whether it took effect; if not, it is acted on now.
func (r *batchRun) settleInterrupted(ctx context.Context) error {
	items, err := r.j.Items(ctx, r.id)
	if err != nil {
		return err
	}
	counts := map[jetstream.BatchItemState]int{}
	var open []jetstream.BatchItem
	for _, it := range items {
		counts[it.State]++
		if it.State == jetstream.ItemStarted {
			open = append(open, it)
		}
	}
	r.app.infof("batch %s so far: %d ok, %d skipped, %d errors, %d interrupted mid-action",
		r.id, counts[jetstream.ItemOK], counts[jetstream.ItemSkipped], counts[jetstream.ItemError], len(open))
	for _, it := range open {
		if ctx.Err() != nil {
			return nil
		}
		r.mu.Lock()
		r.seen[it.RunID] = true
		r.mu.Unlock()
		r.emit(r.resume(ctx, it))
	}
	return nil
}

// run pages through the matches and acts on each, until the matches are
// exhausted or ctx ends (then in-flight items finish and are journaled).
func (r *batchRun) run(ctx context.Context, s searcher, o *opts) {
	docs := make(chan searchapi.Doc)
	var wg sync.WaitGroup
	for range o.parallel {
		wg.Go(func() {
			for d := range docs {
				if r.limit.wait(ctx) != nil {
					continue // drain: ctx ended
				}
				r.emit(r.item(ctx, d))
			}
		})
	}
	pageErr := r.feed(ctx, s, o.query, docs)
	close(docs)
	wg.Wait()
	if pageErr != nil && ctx.Err() == nil {
		r.app.infof("batch %s: reading matches failed: %v", r.id, pageErr)
		r.mu.Lock()
		r.fails++
		r.mu.Unlock()
	}
}

// feed sends every match, once, to docs.
func (r *batchRun) feed(ctx context.Context, s searcher, query string, docs chan<- searchapi.Doc) error {
	req := searchapi.SearchRequest{Query: query, Size: batchPage}
	for {
		res, err := s.Search(ctx, req)
		if err != nil {
			return err
		}
		for _, d := range res.Hits {
			r.mu.Lock()
			dup := r.seen[d.RunID]
			r.seen[d.RunID] = true
			r.mu.Unlock()
			if dup {
				continue
			}
			select {
			case docs <- d:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(res.Next) == 0 || len(res.Hits) == 0 {
			return nil
		}
		req.After = res.Next
	}
}

// item handles one matching run: claim it in the journal, act, record.
func (r *batchRun) item(ctx context.Context, d searchapi.Doc) itemResult {
	res := itemResult{WorkflowID: d.WorkflowID, RunID: d.RunID, Action: r.act.verb}
	// journal writes and the action itself finish even when ctx ends, so
	// that an interrupted batch leaves nothing half-recorded it could avoid
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.itemTimeout)
	defer cancel()
	it, acquired, err := r.j.Claim(ictx, r.id, jetstream.BatchItem{WorkflowID: d.WorkflowID, RunID: d.RunID})
	if err != nil {
		return failed(res, fmt.Errorf("journal: %w (nothing done)", err))
	}
	if acquired {
		return r.apply(ictx, it, res)
	}
	switch it.State {
	case jetstream.ItemOK, jetstream.ItemSkipped:
		res.Result, res.Reason = "skipped", fmt.Sprintf("already handled by this batch (%s at %s)", it.State, when(it.FinishedAt))
		return res
	case jetstream.ItemStarted:
		return r.resume(ictx, it)
	}
	return r.retake(ictx, it, res) // an earlier attempt failed without effect: try again
}

// resume settles a run claimed by an attempt that stopped mid-action.
func (r *batchRun) resume(ctx context.Context, it jetstream.BatchItem) itemResult {
	res := itemResult{WorkflowID: it.WorkflowID, RunID: it.RunID, Action: r.act.verb}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.itemTimeout)
	defer cancel()
	if r.act.took == nil {
		return failed(res, errors.New("an earlier attempt was interrupted mid-action and its outcome cannot be told from history; check the run and act on it by hand"))
	}
	took, err := r.act.took(ictx, r.c, target{WorkflowID: it.WorkflowID, RunID: it.RunID}, r.app.g.identity, it.StartedAt)
	if err != nil {
		return failed(res, fmt.Errorf("checking the interrupted attempt: %w", err))
	}
	if took {
		it.State, it.Reason = jetstream.ItemOK, "done by an interrupted attempt (confirmed from history)"
		if _, err := r.j.Finish(ictx, r.id, it); err != nil && !errors.Is(err, engine.ErrConflict) {
			return failed(res, fmt.Errorf("journal: %w", err))
		}
		res.Result, res.Reason = "skipped", "already done by an interrupted attempt of this batch (confirmed from history)"
		return res
	}
	return r.retake(ictx, it, res)
}

func (r *batchRun) retake(ctx context.Context, prev jetstream.BatchItem, res itemResult) itemResult {
	it, acquired, err := r.j.Retake(ctx, r.id, prev)
	if err != nil {
		return failed(res, fmt.Errorf("journal: %w (nothing done)", err))
	}
	if !acquired {
		res.Result, res.Reason = "skipped", "taken by another attempt of this batch"
		return res
	}
	return r.apply(ctx, it, res)
}

// apply acts on a claimed run and journals the outcome. An error that may
// hide an effect (a timeout) leaves the claim open: a resume settles it
// from history.
func (r *batchRun) apply(ctx context.Context, it jetstream.BatchItem, res itemResult) itemResult {
	out, err := r.act.do(ctx, r.c, target{WorkflowID: it.WorkflowID, RunID: it.RunID})
	switch {
	case err == nil:
		it.State, it.Reason = jetstream.ItemOK, out.Detail
		res.Result, res.Detail = "ok", out.Detail
	case errors.Is(err, engine.ErrRunClosed) || errors.Is(err, engine.ErrNoSuchApproval) || errors.Is(err, compensations.ErrNothingToCompensate):
		// the run no longer needs it (closed, decided meanwhile)
		it.State, it.Reason = jetstream.ItemSkipped, err.Error()
		res.Result, res.Reason = "skipped", err.Error()
	case definite(err):
		it.State, it.Reason = jetstream.ItemError, err.Error()
		res = failed(res, err)
	default:
		return failed(res, fmt.Errorf("%w (outcome unknown: resuming the batch checks the history)", err))
	}
	if _, jerr := r.j.Finish(ctx, r.id, it); jerr != nil {
		res.Reason = fmt.Sprintf("%s; journal not updated (%v): a resume checks the history", res.Reason, jerr)
	}
	return res
}

func failed(res itemResult, err error) itemResult {
	res.Result, res.Reason = "error", err.Error()
	return res
}

// emit prints one result and, now and then, progress.
func (r *batchRun) emit(res itemResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	switch res.Result {
	case "ok":
		r.ok++
	case "skipped":
		r.skip++
	default:
		r.fails++
	}
	if r.app.out.format == formatJSON {
		r.collected = append(r.collected, res)
	} else if err := r.app.printResult(res); err != nil {
		r.app.infof("printing result: %v", err)
	}
	if now := time.Now(); now.Sub(r.lastProgress) >= progressGap {
		r.lastProgress = now
		r.progress(now)
	}
}

func (r *batchRun) progress(now time.Time) {
	rate := float64(r.done) / max(now.Sub(r.started).Seconds(), 0.001)
	r.app.infof("batch %s: %d/%d done (%d ok, %d skipped, %d errors), %.0f/s",
		r.id, r.done, max(r.total, uint64(r.done)), r.ok, r.skip, r.fails, rate)
}

// finish prints the summary and turns the outcome into the command's error.
func (r *batchRun) finish(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.app.out.format == formatJSON {
		if err := list(r.app.out, r.collected); err != nil {
			r.app.infof("printing results: %v", err)
		}
	}
	took := time.Since(r.started).Round(time.Millisecond)
	r.app.infof("batch %s: %d runs in %s: %d ok, %d skipped, %d errors", r.id, r.done, took, r.ok, r.skip, r.fails)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d runs; resume by running the same command with --batch-id %s", r.done, r.id)
	}
	if r.fails > 0 {
		return fmt.Errorf("batch %s: %d of %d runs failed (see the error lines)", r.id, r.fails, r.done)
	}
	return nil
}

// limiter spaces actions evenly to at most rate per second (0: no limit).
type limiter struct {
	mu    sync.Mutex
	every time.Duration
	next  time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return &limiter{}
	}
	return &limiter{every: time.Duration(float64(time.Second) / rate)}
}

func (l *limiter) wait(ctx context.Context) error {
	if l.every == 0 || ctx.Err() != nil {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.every)
	l.mu.Unlock()
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
