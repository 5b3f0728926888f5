package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Batch geometry: runs are acted on 8 at a time (a gentle rate on the
// engine), and all-matches batches read the index 200 runs at a time, so a
// batch over 100,000 matches never holds them all.
const (
	batchParallel = 8
	batchPage     = 200
)

// batchDialog runs an action over marked runs or every match of a search,
// showing progress and each failure; Esc stops it after the chunk in flight.
type batchDialog struct {
	id       int
	a        action
	total    int
	done     int
	skipped  int
	failures []itemResult
	queue    []target
	next     []string // all-matches: cursor of the next page
	fetched  bool     // all-matches: the first page was asked for
	exhaust  bool     // no more pages
	stopping bool
	finished bool
	err      error
}

// itemResult is the outcome of the action on one run.
type itemResult struct {
	t       target
	err     error
	skipped bool
}

func newBatchDialog(m *Model, a action) *batchDialog {
	d := &batchDialog{id: m.id(), a: a, total: a.scope.size()}
	if !a.scope.all {
		d.queue = slices.Clone(a.scope.targets)
		d.exhaust = true
	}
	return d
}

func (d *batchDialog) mid() int { return d.id }

// step starts the next chunk: a page of matches to resolve, or up to
// batchParallel runs to act on.
func (d *batchDialog) step(m *Model) tea.Cmd {
	if d.stopping || (len(d.queue) == 0 && d.exhaust) {
		d.finished = true
		return m.top().refresh(m)
	}
	b, ctx, timeout, id, a := m.b, m.ctx, m.opts.RequestTimeout, d.id, d.a
	if len(d.queue) == 0 {
		after := d.next
		d.fetched = true
		return func() tea.Msg {
			c, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			res, err := b.Search(c, searchapi.SearchRequest{Query: a.scope.query, Sort: a.scope.sort, Size: batchPage, After: after})
			if err != nil {
				return batchStepMsg{addr: addr{id}, err: err}
			}
			var ts []target
			var skipped []itemResult
			for i := range res.Hits {
				t := targetOf(&res.Hits[i])
				if a.approval != "" {
					if !hasApproval(&res.Hits[i], a.approval) {
						skipped = append(skipped, itemResult{t: t, skipped: true})
						continue
					}
					t.Approval = a.approval
				}
				ts = append(ts, t)
			}
			return batchStepMsg{addr: addr{id}, pending: ts, results: skipped, next: res.Next, done: len(res.Next) == 0 || len(res.Hits) < batchPage}
		}
	}
	n := min(batchParallel, len(d.queue))
	chunk := slices.Clone(d.queue[:n])
	d.queue = d.queue[n:]
	return func() tea.Msg {
		results := make([]itemResult, len(chunk))
		var wg sync.WaitGroup
		for i, t := range chunk {
			wg.Go(func() {
				c, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				_, err := perform(c, b, a, t)
				results[i] = itemResult{t: t, err: err}
			})
		}
		wg.Wait()
		return batchStepMsg{addr: addr{id}, results: results}
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
	if s.err != nil {
		d.err = s.err
		d.finished = true
		return m.top().refresh(m)
	}
	for _, r := range s.results {
		switch {
		case r.skipped:
			d.skipped++
		case r.err != nil:
			d.failures = append(d.failures, r)
		}
		d.done++
	}
	if s.pending != nil || s.next != nil || s.done {
		d.queue = append(d.queue, s.pending...)
		d.next = s.next
		d.exhaust = s.done
	}
	return d.step(m)
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
		}
	}
	return nil
}

// progress is 0..100, for the dialog and the terminal's own progress bar.
func (d *batchDialog) progress() int {
	if d.total <= 0 {
		return 0
	}
	return min(100*d.done/d.total, 100)
}

func (d *batchDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	verb := d.a.kind.verb()
	barW := iw - 24
	full := 0
	if d.total > 0 {
		full = min(barW*d.done/d.total, barW)
	}
	bar := st.BarFull.Render(strings.Repeat("█", full)) + st.BarEmpty.Render(strings.Repeat("░", barW-full))
	ok := d.done - len(d.failures) - d.skipped
	parts := []string{scopeLines(st, d.a.scope, iw),
		bar + fmt.Sprintf(" %s/%s", thousands(d.done), thousands(d.total)),
		fmt.Sprintf("%s %s done   %s %s failed   %s skipped", st.OK.Render("✓"), thousands(ok), st.Fail.Render("✗"), thousands(len(d.failures)), thousands(d.skipped))}
	if len(d.failures) > 0 {
		var b strings.Builder
		rows := max(h-20, 3)
		for i, f := range d.failures {
			if i == rows {
				fmt.Fprintf(&b, "\n  … %d more", len(d.failures)-rows)
				break
			}
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(fit("  "+f.t.WorkflowID+": "+errorText(f.err), iw))
		}
		parts = append(parts, b.String())
	}
	switch {
	case d.err != nil:
		parts = append(parts, wrapText(st.Error, "stopped: "+errorText(d.err), iw))
	case d.finished && d.stopping:
		parts = append(parts, st.Warn.Render("stopped by the operator")+st.Dim.Render(" · enter close"))
	case d.finished:
		parts = append(parts, st.OK.Render("finished")+st.Dim.Render(" · enter close"))
	case d.stopping:
		parts = append(parts, st.Warn.Render("stopping after the runs in flight…"))
	default:
		parts = append(parts, st.Dim.Render("esc stops after the runs in flight"))
	}
	return dialogBox(st, fmt.Sprintf("Batch %s: %s %s", verb, thousands(d.total), d.a.scope.noun()), parts, iw, h, false)
}
