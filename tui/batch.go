package tui

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Batch geometry: runs are acted on 8 at a time and at most consoleRate
// per second (the CLI's default --rate: a gentle pace for the engine), and
// all-matches batches read the index 200 runs at a time, so a batch over
// 100,000 matches never holds them all.
const (
	batchParallel = 8
	batchPage     = 200
	consoleRate   = 50
)

// batchDialog runs an action over marked runs or every match of a search
// through the operator batch runner (journaled, resumable, rate-limited),
// showing progress and each failure. Esc stops it after the runs in
// flight; r then resumes it under the same batch id, which never acts
// twice on a run (nor does the CLI's --batch-id, for a batch over matches).
type batchDialog struct {
	id      int
	a       action
	batchID string
	total   int
	// results by run (and approval): a resume reports runs again, the
	// first outcome stays unless the resume changed it.
	results  map[string]operator.ItemResult
	order    []string
	stopping bool
	finished bool
	stopped  bool // the last pass ended before every run was handled
	err      error
	cancel   context.CancelFunc
	events   <-chan batchStepMsg
}

func newBatchDialog(m *Model, a action) *batchDialog {
	return &batchDialog{id: m.id(), a: a, batchID: operator.NewBatchID(), total: a.scope.size(), results: map[string]operator.ItemResult{}}
}

func (d *batchDialog) mid() int { return d.id }

// counts are the dialog's tallies: ok, failed and skipped runs.
func (d *batchDialog) counts() (done, ok, failed, skipped int) {
	for _, r := range d.results {
		switch r.Result {
		case operator.ResultOK:
			ok++
		case operator.ResultSkipped:
			skipped++
		default:
			failed++
		}
	}
	return len(d.results), ok, failed, skipped
}

// start runs (or resumes) the batch: a command that opens the journal and
// starts the runner, whose results come back one message each.
func (d *batchDialog) start(m *Model) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	events := make(chan batchStepMsg, 64)
	d.cancel, d.events, d.stopping, d.finished, d.stopped, d.err = cancel, events, false, false, false, nil
	b, life, a, id, to := m.b, m.ctx, d.a, d.id, m.opts.RequestTimeout
	batch := operator.Batch{ID: d.batchID, Request: a.request(target{}), Total: uint64(a.scope.size())}
	pages := operator.List(targetsOf(a.scope.targets))
	if a.scope.all {
		batch.Query, pages = a.scope.query, matchPages(b, a, to)
	}
	r := &operator.Runner{Actions: m.acts, Identity: m.opts.Identity, Rate: consoleRate, Parallel: batchParallel, ItemTimeout: to,
		OnResult: func(res operator.ItemResult, _ operator.Counts) {
			select {
			case events <- batchStepMsg{addr: addr{id}, result: &res}:
			case <-life.Done(): // the console is gone: nobody reads
			}
		}}
	return func() tea.Msg {
		j, err := b.Journal(ctx)
		if err != nil {
			cancel()
			return batchStepMsg{addr: addr{id}, done: true, err: err}
		}
		host, _ := os.Hostname()
		r.Journal, r.Holder = j, fmt.Sprintf("the console of %s (pid %d on %s)", r.Identity, os.Getpid(), host)
		go func() {
			defer cancel()
			sum, err := r.Run(ctx, batch, pages)
			select {
			case events <- batchStepMsg{addr: addr{id}, done: true, interrupted: sum.Interrupted, err: err}:
			case <-life.Done():
			}
		}()
		return receiveStep(life, events)
	}
}

// next waits for the runner's next message.
func (d *batchDialog) next(m *Model) tea.Cmd {
	life, events := m.ctx, d.events
	return func() tea.Msg { return receiveStep(life, events) }
}

// receiveStep waits for a batch message, or for the console to end.
func receiveStep(life context.Context, events <-chan batchStepMsg) tea.Msg {
	select {
	case msg := <-events:
		return msg
	case <-life.Done():
		return nil
	}
}

func targetsOf(ts []target) []operator.Target {
	out := make([]operator.Target, len(ts))
	for i, t := range ts {
		out[i] = operator.Target{WorkflowID: t.WorkflowID, RunID: t.RunID, Approval: t.Approval}
	}
	return out
}

// matchPages reads every match of an all-matches scope, a page at a time;
// a decision skips the runs without the named approval pending.
func matchPages(b Backend, a action, timeout time.Duration) operator.Pages {
	return func(ctx context.Context, after []string) ([]operator.Target, []string, error) {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := b.Search(c, searchapi.SearchRequest{Query: a.scope.query, Sort: a.scope.sort, Size: batchPage, After: after})
		if err != nil {
			return nil, nil, err
		}
		ts := make([]operator.Target, len(res.Hits))
		for i := range res.Hits {
			ts[i] = operator.Target{WorkflowID: res.Hits[i].WorkflowID, RunID: res.Hits[i].RunID}
			if a.approval != "" && !hasApproval(&res.Hits[i], a.approval) {
				ts[i].Skip = "no pending approval " + a.approval
			}
		}
		if len(res.Hits) < batchPage {
			return ts, nil, nil
		}
		return ts, res.Next, nil
	}
}

func hasApproval(d *searchapi.Doc, name string) bool {
	for _, a := range d.PendingApprovals {
		if a.Name == name {
			return true
		}
	}
	return false
}

func (d *batchDialog) receive(m *Model, msg tea.Msg) tea.Cmd {
	s, ok := msg.(batchStepMsg)
	if !ok {
		return nil
	}
	if r := s.result; r != nil {
		key := r.RunID + "\x00" + r.Approval
		if _, seen := d.results[key]; !seen {
			d.order = append(d.order, key)
		}
		if _, seen := d.results[key]; !seen || !r.Earlier {
			d.results[key] = *r
		}
	}
	if !s.done {
		return d.next(m)
	}
	d.finished, d.stopped, d.err = true, s.interrupted, s.err
	if _, _, failed, _ := d.counts(); s.err == nil && !s.interrupted && failed == 0 {
		m.clearErrFlash()
	}
	return m.top().refresh(m)
}

func (d *batchDialog) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc", "enter", "q":
		if d.finished {
			m.closeModal()
			return nil
		}
		if k.String() == "esc" {
			d.stopping = true
			d.cancel()
		}
	case "r":
		if d.finished && d.resumable() {
			return d.start(m)
		}
	}
	return nil
}

// resumable: the last pass stopped early, or some runs failed (a resume
// tries them again; the journal keeps it from acting twice on the others).
func (d *batchDialog) resumable() bool {
	_, _, failed, _ := d.counts()
	return d.stopped || failed > 0 || d.err != nil
}

// progress is 0..100, for the dialog and the terminal's own progress bar.
func (d *batchDialog) progress() int {
	done, _, _, _ := d.counts()
	if d.total <= 0 {
		return 0
	}
	return min(100*done/d.total, 100)
}

func (d *batchDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	verb := d.a.kind.verb()
	done, ok, failed, skipped := d.counts()
	barW := iw - 24
	full := 0
	if d.total > 0 {
		full = min(barW*done/d.total, barW)
	}
	bar := st.BarFull.Render(strings.Repeat("█", full)) + st.BarEmpty.Render(strings.Repeat("░", barW-full))
	parts := []string{scopeLines(st, d.a.scope, iw),
		bar + fmt.Sprintf(" %s/%s", thousands(done), thousands(d.total)),
		fmt.Sprintf("%s %s done   %s %s failed   %s skipped", st.OK.Render("✓"), thousands(ok), st.Fail.Render("✗"), thousands(failed), thousands(skipped))}
	if failed > 0 {
		var b strings.Builder
		rows := max(h-20, 3)
		i := 0
		for _, key := range d.order {
			f := d.results[key]
			if f.Result != operator.ResultError {
				continue
			}
			if i == rows {
				fmt.Fprintf(&b, "\n  … %d more", failed-rows)
				break
			}
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(fit("  "+f.WorkflowID+": "+errorText(f.Err), iw))
			i++
		}
		parts = append(parts, b.String())
	}
	resume := ""
	if d.finished && d.resumable() {
		resume = " · r resume (batch " + d.batchID + ")"
	}
	switch {
	case d.err != nil:
		parts = append(parts, wrapText(st.Error, "stopped: "+errorText(d.err), iw), st.Dim.Render(strings.TrimPrefix(resume, " · ")+" · enter close"))
	case d.finished && d.stopping:
		parts = append(parts, st.Warn.Render("stopped by the operator")+st.Dim.Render(resume+" · enter close"))
	case d.finished:
		parts = append(parts, st.OK.Render("finished")+st.Dim.Render(resume+" · enter close"))
	case d.stopping:
		parts = append(parts, st.Warn.Render("stopping after the runs in flight…"))
	default:
		// the id lets the CLI resume a batch over matches should the console die
		parts = append(parts, st.Dim.Render("esc stops after the runs in flight · batch "+d.batchID))
	}
	return dialogBox(st, fmt.Sprintf("Batch %s: %s %s", verb, thousands(d.total), d.a.scope.noun()), parts, iw, h, false)
}
