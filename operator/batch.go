package operator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/google/uuid"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/actwire"
)

// A batch applies one action to many runs: every match of a query, paged
// with the search-after cursor, or a list the operator marked. The Runner
// acts on each at most Rate per second with Parallel in flight, journals
// each run before and after acting (jetstream.Batches) and reports one
// result per run. Interrupted (Ctrl-C, Esc, kill -9, lost connection), it
// is resumed with the same batch id: runs already handled are skipped, and
// a run whose action was in flight when the batch died is settled from its
// history, so no run is ever acted on twice.

// Pages yields a batch's runs a page at a time: after is nil for the
// first page, then the next cursor returned; an empty next ends the batch.
type Pages func(ctx context.Context, after []string) (page []Target, next []string, err error)

// List is Pages over a fixed list of runs (the console's marked runs).
func List(ts []Target) Pages {
	return func(context.Context, []string) ([]Target, []string, error) { return ts, nil, nil }
}

// Batch is what a batch does: Request's action and parameters (its Target
// is ignored), over the runs Pages yields.
type Batch struct {
	// ID names the batch; "" starts a new one (NewBatchID). Running a batch
	// with the ID of an earlier one resumes it.
	ID string
	// Name is the action as the journal records it (default Request.Action).
	Name string
	// Query is what the runs match, recorded in the journal ("" for a list).
	Query   string
	Request Request
	// Total is how many runs are expected (progress only).
	Total uint64
}

// NewBatchID returns a fresh batch id.
func NewBatchID() string { return "b-" + uuid.NewString()[:13] }

// Runner runs batches. Set Actions, Journal and Identity; the rest has
// defaults.
type Runner struct {
	// Actions performs each run's action: wrap it with ReadOnly in
	// read-only mode and a batch is refused before anything is journaled.
	Actions Actions
	Journal Journal
	// Catalog declares the actions (default Default).
	Catalog *Catalog
	// Identity is who acts; the journal records it and refuses a resume
	// by someone else.
	Identity string
	// Holder describes this process to a second attempt at the same batch.
	Holder string
	// Rate is the most actions per second (0: no limit).
	Rate float64
	// Parallel is how many actions are in flight at once (default 1).
	Parallel int
	// ItemTimeout bounds the journal writes and the action of one run
	// (default 30s); they finish even when the batch's ctx ends, so an
	// interruption leaves nothing half-recorded it could avoid.
	ItemTimeout time.Duration
	// Logf reports the batch's life (started, resumed, so far); optional.
	Logf func(format string, args ...any)
	// OnResult receives each result, one call at a time, with the counts
	// including it; optional.
	OnResult func(ItemResult, Counts)
}

// Run runs b over the runs pages yields, until they are exhausted or ctx
// ends (then the runs in flight finish and are journaled). The error is
// for a batch that could not start (read-only, a batch id of another
// batch, one already running elsewhere); a run's failure is its result.
func (r *Runner) Run(ctx context.Context, b Batch, pages Pages) (Summary, error) {
	if err := r.Actions.Check(b.Request); err != nil {
		return Summary{}, err
	}
	cat := cmp.Or(r.Catalog, Default)
	a, ok := cat.Lookup(b.Request.Action)
	args, err := a.journalArgs(b.Request.Params)
	if err != nil {
		return Summary{}, err
	}
	if b.ID == "" {
		b.ID = NewBatchID()
	}
	if b.Name == "" {
		b.Name = b.Request.Action
	}
	rec, resumed, err := r.Journal.Begin(ctx, BatchRecord{ID: b.ID, Action: b.Name, Query: b.Query, Args: args, Identity: r.Identity})
	if err != nil {
		return Summary{}, err
	}
	release, err := r.Journal.Hold(ctx, b.ID, r.Holder)
	if err != nil {
		return Summary{}, err
	}
	defer release()
	run := &batchRun{Runner: r, b: b, verb: b.Name, seen: map[string]bool{}, limit: newLimiter(r.Rate),
		canTell: ok && a.Took != nil, itemTimeout: cmp.Or(max(r.ItemTimeout, 0), 30*time.Second)}
	if ok {
		run.verb = a.VerbOf()
	}
	if resumed {
		run.logf("resuming batch %s (%s over %q, started by %s at %s)", b.ID, rec.Action, rec.Query, rec.Identity, when(rec.CreatedAt))
		if err := run.settleInterrupted(ctx); err != nil {
			return Summary{ID: b.ID, Resumed: true}, err
		}
	} else {
		run.logf("batch %s: %s %d runs matching %q (if interrupted, resume with --batch-id %s)", b.ID, b.Name, b.Total, b.Query, b.ID)
	}
	run.run(ctx, pages)
	run.mu.Lock()
	defer run.mu.Unlock()
	return Summary{ID: b.ID, Counts: run.counts, Resumed: resumed, Interrupted: ctx.Err() != nil}, nil
}

// newLimiter spaces actions evenly, at most perSecond (0: no limit): a
// burst of one, so a batch never fires a volley at the engine.
func newLimiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(perSecond), 1)
}

func when(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

// batchRun is one pass of a batch.
type batchRun struct {
	*Runner
	b     Batch
	verb  string
	limit *rate.Limiter
	// canTell: the action's history tells whether an interrupted attempt
	// took effect.
	canTell     bool
	itemTimeout time.Duration

	mu     sync.Mutex
	seen   map[string]bool // item keys handed out: a run is taken once per pass
	counts Counts
}

func (r *batchRun) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

// itemKey names a run in this pass: the run, and the approval when the
// console decides several approvals of one run.
func itemKey(t Target) string { return t.RunID + "\x00" + t.Approval }

func (r *batchRun) request(t Target) Request {
	req := r.b.Request
	req.Target = t
	return req
}

// settleInterrupted decides, before anything else, each run whose action
// was in flight when an earlier attempt of the batch stopped: the history
// says whether it took effect; if not, it is acted on now.
func (r *batchRun) settleInterrupted(ctx context.Context) error {
	items, err := r.Journal.Items(ctx, r.b.ID)
	if err != nil {
		return err
	}
	counts := map[ItemState]int{}
	var open []ItemRecord
	for _, it := range items {
		counts[it.State]++
		if it.State == ItemStarted {
			open = append(open, it)
		}
	}
	r.logf("batch %s so far: %d ok, %d skipped, %d errors, %d interrupted mid-action",
		r.b.ID, counts[ItemOK], counts[ItemSkipped], counts[ItemError], len(open))
	for _, it := range open {
		if ctx.Err() != nil {
			return nil
		}
		r.mu.Lock()
		r.seen[itemKey(targetOf(it))] = true
		r.mu.Unlock()
		r.emit(r.resume(ctx, it))
	}
	return nil
}

func targetOf(it ItemRecord) Target {
	return Target{WorkflowID: it.WorkflowID, RunID: it.RunID, Approval: it.Approval}
}

// run pages through the runs and acts on each, until they are exhausted
// or ctx ends.
func (r *batchRun) run(ctx context.Context, pages Pages) {
	targets := make(chan Target)
	var wg sync.WaitGroup
	for range max(r.Parallel, 1) {
		wg.Go(func() {
			for t := range targets {
				if r.limit.Wait(ctx) != nil {
					continue // drain: ctx ended
				}
				r.emit(r.item(ctx, t))
			}
		})
	}
	pageErr := r.feed(ctx, pages, targets)
	close(targets)
	wg.Wait()
	if pageErr != nil && ctx.Err() == nil {
		r.logf("batch %s: reading matches failed: %v", r.b.ID, pageErr)
		r.mu.Lock()
		r.counts.Failed++
		r.mu.Unlock()
	}
}

// feed sends every run, once, to targets.
func (r *batchRun) feed(ctx context.Context, pages Pages, targets chan<- Target) error {
	var after []string
	for {
		page, next, err := pages(ctx, after)
		if err != nil {
			return err
		}
		for _, t := range page {
			r.mu.Lock()
			dup := r.seen[itemKey(t)]
			r.seen[itemKey(t)] = true
			r.mu.Unlock()
			if dup {
				continue
			}
			if t.Skip != "" {
				r.emit(ItemResult{WorkflowID: t.WorkflowID, RunID: t.RunID, Action: r.verb, Approval: t.Approval, Result: ResultSkipped, Reason: t.Skip})
				continue
			}
			select {
			case targets <- t:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(next) == 0 || len(page) == 0 {
			return nil
		}
		after = next
	}
}

// item handles one run: claim it in the journal, act, record.
func (r *batchRun) item(ctx context.Context, t Target) ItemResult {
	res := ItemResult{WorkflowID: t.WorkflowID, RunID: t.RunID, Action: r.verb, Approval: t.Approval}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.itemTimeout)
	defer cancel()
	it, acquired, err := r.Journal.Claim(ictx, r.b.ID, ItemRecord{WorkflowID: t.WorkflowID, RunID: t.RunID, Approval: t.Approval})
	if err != nil {
		return failed(res, fmt.Errorf("journal: %w (nothing done)", err))
	}
	if acquired {
		return r.apply(ictx, it, res)
	}
	switch it.State {
	case ItemOK, ItemSkipped:
		res.Result, res.Reason, res.Earlier = ResultSkipped, fmt.Sprintf("already handled by this batch (%s at %s)", it.State, when(it.FinishedAt)), true
		return res
	case ItemStarted:
		return r.resume(ictx, it)
	}
	return r.retake(ictx, it, res) // an earlier attempt failed without effect: try again
}

// resume settles a run claimed by an attempt that stopped mid-action.
func (r *batchRun) resume(ctx context.Context, it ItemRecord) ItemResult {
	res := ItemResult{WorkflowID: it.WorkflowID, RunID: it.RunID, Action: r.verb, Approval: it.Approval}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.itemTimeout)
	defer cancel()
	if !r.canTell {
		return failed(res, errors.New("an earlier attempt was interrupted mid-action and its outcome cannot be told from history; check the run and act on it by hand"))
	}
	took, err := r.Actions.Took(ictx, r.request(targetOf(it)), it.StartedAt)
	if err != nil {
		return failed(res, fmt.Errorf("checking the interrupted attempt: %w", err))
	}
	if took {
		it.State, it.Reason = ItemOK, "done by an interrupted attempt (confirmed from history)"
		if _, err := r.Journal.Finish(ictx, r.b.ID, it); err != nil && !errors.Is(err, engine.ErrConflict) {
			return failed(res, fmt.Errorf("journal: %w", err))
		}
		res.Result, res.Reason = ResultSkipped, "already done by an interrupted attempt of this batch (confirmed from history)"
		return res
	}
	return r.retake(ictx, it, res)
}

func (r *batchRun) retake(ctx context.Context, prev ItemRecord, res ItemResult) ItemResult {
	it, acquired, err := r.Journal.Retake(ctx, r.b.ID, prev)
	if err != nil {
		return failed(res, fmt.Errorf("journal: %w (nothing done)", err))
	}
	if !acquired {
		res.Result, res.Reason = ResultSkipped, "taken by another attempt of this batch"
		return res
	}
	return r.apply(ctx, it, res)
}

// apply acts on a claimed run and journals the outcome. An error that may
// hide an effect (a timeout) leaves the claim open: a resume settles it
// from history.
func (r *batchRun) apply(ctx context.Context, it ItemRecord, res ItemResult) ItemResult {
	out, err := r.Actions.Perform(actwire.WithBatch(ctx, r.b.ID), r.request(targetOf(it)))
	switch {
	case err == nil:
		it.State, it.Reason = ItemOK, out.Detail
		res.Result, res.Detail = ResultOK, out.Detail
	case needless(err):
		it.State, it.Reason = ItemSkipped, err.Error()
		res.Result, res.Reason = ResultSkipped, err.Error()
	case Definite(err):
		it.State, it.Reason = ItemError, err.Error()
		res = failed(res, err)
	default:
		return failed(res, fmt.Errorf("%w (outcome unknown: resuming the batch checks the history)", err))
	}
	if _, jerr := r.Journal.Finish(ctx, r.b.ID, it); jerr != nil {
		res.Reason = fmt.Sprintf("%s; journal not updated (%v): a resume checks the history", res.Reason, jerr)
	}
	return res
}

func failed(res ItemResult, err error) ItemResult {
	res.Result, res.Reason, res.Err = ResultError, err.Error(), err
	return res
}

// emit counts one result and hands it on.
func (r *batchRun) emit(res ItemResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts.Done++
	switch res.Result {
	case ResultOK:
		r.counts.OK++
	case ResultSkipped:
		r.counts.Skipped++
	default:
		r.counts.Failed++
	}
	if r.OnResult != nil {
		r.OnResult(res, r.counts)
	}
}
