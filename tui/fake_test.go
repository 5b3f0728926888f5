package tui

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/operator/operatortest"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// fakeBackend serves fixed data with search-after paging and records every
// write. With synthetic > 0 it pretends to hold that many runs and builds
// each page on demand (the benchmark's 100,000 matches).
type fakeBackend struct {
	mu        sync.Mutex
	clock     time.Time
	docs      []searchapi.Doc
	synthetic int
	histories map[string][]engine.Event
	plans     map[string][]CompensationStep
	answers   map[string]json.RawMessage
	views     []SavedView
	calls     []string
	searches  []searchapi.SearchRequest
	updates   chan struct{}
	preview   ResetPreview
	// t starts the journal's JetStream (set by newHarness).
	t       testing.TB
	journal operator.Journal
	// real, when set, performs the actions instead (a real engine's).
	real operator.Actions
	// down, when set, is the URL the backend says it lost (ConnState).
	down string
}

func (f *fakeBackend) ConnState() ConnState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return ConnState{Connected: f.down == "", URL: f.down}
}

func newFakeBackend(clock time.Time) *fakeBackend {
	return &fakeBackend{clock: clock, histories: map[string][]engine.Event{}, plans: map[string][]CompensationStep{},
		answers: map[string]json.RawMessage{}, updates: make(chan struct{}, 16)}
}

func (f *fakeBackend) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return nil
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeBackend) Search(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searches = append(f.searches, req)
	size := cmp.Or(req.Size, 50)
	start := 0
	if len(req.After) == 1 {
		start, _ = strconv.Atoi(req.After[0])
	}
	if f.synthetic > 0 {
		return f.syntheticPage(req, start, size), nil
	}
	match, err := f.matcher(req.Query)
	if err != nil {
		return searchapi.SearchResult{}, err
	}
	var hits []searchapi.Doc
	for _, d := range f.docs {
		if match(&d) {
			hits = append(hits, d)
		}
	}
	sortDocs(hits, req.Sort)
	res := searchapi.SearchResult{Total: uint64(len(hits)), TookMS: 1.5}
	end := min(start+size, len(hits))
	if start < end {
		res.Hits = slices.Clone(hits[start:end])
	}
	if end < len(hits) {
		res.Next = []string{strconv.Itoa(end)}
	}
	return res, nil
}

// syntheticPage: run i is order-%06d, started i minutes before the clock;
// a descending first key lists them from i=0, an ascending one from the end.
func (f *fakeBackend) syntheticPage(req searchapi.SearchRequest, start, size int) searchapi.SearchResult {
	n := f.synthetic
	res := searchapi.SearchResult{Total: uint64(n), TookMS: 3}
	desc := len(req.Sort) == 0 || strings.HasPrefix(req.Sort[0], "-")
	end := min(start+size, n)
	for p := start; p < end; p++ {
		i := p
		if !desc {
			i = n - 1 - p
		}
		res.Hits = append(res.Hits, syntheticDoc(f.clock, i))
	}
	if end < n {
		res.Next = []string{strconv.Itoa(end)}
	}
	return res
}

func syntheticDoc(clock time.Time, i int) searchapi.Doc {
	statuses := []engine.Status{engine.StatusRunning, engine.StatusCompleted, engine.StatusCompleted, engine.StatusFailed}
	st := statuses[i%len(statuses)]
	d := searchapi.Doc{WorkflowID: fmt.Sprintf("order-%06d", i), RunID: fmt.Sprintf("run-%06d-aaaa", i), Type: "OrderWorkflow",
		TaskQueue: "orders", Status: st, StartTime: clock.Add(-time.Duration(i) * time.Minute), HistoryLength: int64(10 + i%40),
		StatusLine: fmt.Sprintf("step %d of 5: charging card", i%5+1), Progress: &engine.Progress{Done: int64(i % 5), Total: 5},
		LastEventTime: clock.Add(-time.Duration(i) * time.Second)}
	if st == engine.StatusRunning {
		d.WaitingOn = "activity"
	} else {
		d.CloseTime = d.StartTime.Add(90 * time.Second)
	}
	return d
}

func sortDocs(docs []searchapi.Doc, sortSpec []string) {
	slices.SortStableFunc(docs, func(a, b searchapi.Doc) int {
		for _, f := range sortSpec {
			desc := strings.HasPrefix(f, "-")
			c := compareField(&a, &b, strings.TrimPrefix(f, "-"))
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(a.RunID, b.RunID)
	})
}

func compareField(a, b *searchapi.Doc, f string) int {
	switch f {
	case "start_time":
		return a.StartTime.Compare(b.StartTime)
	case "last_event_time":
		return a.LastEventTime.Compare(b.LastEventTime)
	case "workflow_id":
		return strings.Compare(a.WorkflowID, b.WorkflowID)
	case "type":
		return strings.Compare(a.Type, b.Type)
	case "status":
		return strings.Compare(string(a.Status), string(b.Status))
	case "waiting_on":
		return strings.Compare(a.WaitingOn, b.WaitingOn)
	case "run_id":
		return strings.Compare(a.RunID, b.RunID)
	case "history_length":
		return cmp.Compare(a.HistoryLength, b.HistoryLength)
	case "approval_since":
		return oldestOf(a).Compare(oldestOf(b))
	}
	return 0
}

func oldestOf(d *searchapi.Doc) time.Time {
	if a := oldestApproval(d.PendingApprovals); a != nil {
		return a.RequestedAt
	}
	return time.Time{}
}

var knownStatuses = "running, completed, failed, canceled, terminated, timed_out, continued_as_new, reset, compensated"

// matcher understands just enough of the query string for the tests:
// field:value terms (all required), approvals:*, last_event_time:<now-D,
// and words matched against workflow ids. An unknown status is a
// positioned error, as the real index reports it.
func (f *fakeBackend) matcher(q string) (func(*searchapi.Doc) bool, error) {
	var preds []func(*searchapi.Doc) bool
	i := 0
	for i < len(q) {
		if strings.ContainsRune(" ()+", rune(q[i])) {
			i++
			continue
		}
		j := i
		for j < len(q) && !strings.ContainsRune(" ()", rune(q[j])) {
			j++
		}
		tok := q[i:j]
		neg := strings.HasPrefix(tok, "-")
		if neg { // -field:value excludes
			tok = tok[1:]
			if match, err := f.matcher(tok); err == nil {
				preds = append(preds, func(d *searchapi.Doc) bool { return !match(d) })
			}
			i = j
			continue
		}
		field, val, ok := strings.Cut(tok, ":")
		val = strings.Trim(val, `"`)
		switch {
		case !ok:
			preds = append(preds, func(d *searchapi.Doc) bool { return strings.Contains(d.WorkflowID, tok) })
		case field == "status":
			if !strings.Contains(knownStatuses, val) {
				return nil, &searchapi.APIError{Code: "bad_query", Message: fmt.Sprintf("unknown status %q", val), Pos: i + len("status:"), Expected: "a status: " + knownStatuses}
			}
			preds = append(preds, func(d *searchapi.Doc) bool { return string(d.Status) == val })
		case field == "type":
			preds = append(preds, func(d *searchapi.Doc) bool { return d.Type == val })
		case field == "waiting_on":
			preds = append(preds, func(d *searchapi.Doc) bool { return d.WaitingOn == val })
		case field == "task_queue":
			preds = append(preds, func(d *searchapi.Doc) bool { return d.TaskQueue == val })
		case field == "workflow_id":
			preds = append(preds, func(d *searchapi.Doc) bool {
				p, wild := strings.CutSuffix(val, "*")
				return d.WorkflowID == val || (wild && strings.HasPrefix(d.WorkflowID, p))
			})
		case field == "approvals" && val == "*":
			preds = append(preds, func(d *searchapi.Doc) bool { return len(d.PendingApprovals) > 0 })
		case field == "last_event_time" && strings.HasPrefix(val, "<now-"):
			dur, err := parseAge(strings.TrimPrefix(val, "<now-"))
			if err != nil {
				return nil, &searchapi.APIError{Code: "bad_query", Message: err.Error(), Pos: i}
			}
			cut := f.clock.Add(-dur)
			preds = append(preds, func(d *searchapi.Doc) bool { return d.LastEventTime.Before(cut) })
		default:
			return nil, &searchapi.APIError{Code: "bad_query", Message: fmt.Sprintf("unknown field %q", field), Pos: i, Expected: "a field name"}
		}
		i = j
	}
	return func(d *searchapi.Doc) bool {
		for _, p := range preds {
			if !p(d) {
				return false
			}
		}
		return true
	}, nil
}

func (f *fakeBackend) Count(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.synthetic > 0 {
		n := uint64(f.synthetic)
		return searchapi.CountResult{Total: n, Groups: []searchapi.Group{{Value: "completed", Count: n / 2}, {Value: "running", Count: n / 4}, {Value: "failed", Count: n / 4}}}, nil
	}
	match, err := f.matcher(req.Query)
	if err != nil {
		return searchapi.CountResult{}, err
	}
	groups := map[string]uint64{}
	var total uint64
	for _, d := range f.docs {
		if !match(&d) {
			continue
		}
		total++
		switch req.GroupBy {
		case "status":
			groups[string(d.Status)]++
		case "waiting_on":
			groups[d.WaitingOn]++
		case "task_queue":
			groups[d.TaskQueue]++
		}
	}
	res := searchapi.CountResult{Total: total}
	for v, c := range groups {
		res.Groups = append(res.Groups, searchapi.Group{Value: v, Count: c})
	}
	slices.SortFunc(res.Groups, func(a, b searchapi.Group) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
	})
	return res, nil
}

func (f *fakeBackend) Lag(ctx context.Context) (searchapi.Lag, error) {
	return searchapi.Lag{AppliedSeq: 10, HistorySeq: 10, Docs: uint64(len(f.docs))}, nil
}

// Updates forwards the test's notifications until ctx ends, then closes,
// as the real adapter does.
func (f *fakeBackend) Updates(ctx context.Context) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case v := <-f.updates:
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func (f *fakeBackend) History(ctx context.Context, wf, run string) ([]engine.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.histories[run]; ok {
		return h, nil
	}
	return nil, fmt.Errorf("%w: run %s of %q", engine.ErrWorkflowNotFound, run, wf)
}

func (f *fakeBackend) Query(ctx context.Context, wf, run, name string, args json.RawMessage) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != engine.QueryHandlers { // asked by every detail: not what tests follow
		f.calls = append(f.calls, fmt.Sprintf("query %s %s %s %s", wf, run, name, string(args)))
	}
	if a, ok := f.answers[name]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("%w: no query handler %q (known: [__stack __pending status])", engine.ErrUnknownQuery, name)
}

func (f *fakeBackend) CompensationPlan(ctx context.Context, wf, run string) ([]CompensationStep, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.plans[run], nil
}

// Check accepts every catalog action: read-only is the decorator's, which
// the console puts in front of the backend.
func (f *fakeBackend) Check(req operator.Request) error {
	if f.real != nil {
		return f.real.Check(req)
	}
	if _, ok := operator.Default.Lookup(req.Action); !ok {
		return fmt.Errorf("%w %q", operator.ErrUnknownAction, req.Action)
	}
	return nil
}

// Perform records each write as one line the tests compare.
func (f *fakeBackend) Perform(ctx context.Context, req operator.Request) (operator.Outcome, error) {
	if f.real != nil {
		return f.real.Perform(ctx, req)
	}
	t, p := req.Target, req.Params
	switch req.Action {
	case operator.ActSignal:
		return operator.Outcome{}, f.record("signal %s %s %s %s", t.WorkflowID, t.RunID, p.Name, string(p.Input))
	case operator.ActApprove, operator.ActReject:
		return operator.Outcome{}, f.record("%s %s %s %s %q", req.Action, t.WorkflowID, t.RunID, cmp.Or(t.Approval, p.Approval), p.Comment)
	case operator.ActCancel, operator.ActTerminate, operator.ActCompensate:
		return operator.Outcome{}, f.record("%s %s %s %q", req.Action, t.WorkflowID, t.RunID, p.Reason)
	case operator.ActReset:
		f.mu.Lock()
		res := resetResultOf(f.preview)
		f.mu.Unlock()
		if p.DryRun {
			res.DryRun = true
			return operator.Outcome{Data: res}, nil
		}
		_ = f.record("reset %s %s to=%s reapply=%v %q", t.WorkflowID, t.RunID, p.To, p.ReapplySignals, p.Reason)
		res.NewRunID = "new-run-0001"
		return operator.Outcome{Data: res}, nil
	case operator.ActViewSave:
		f.mu.Lock()
		defer f.mu.Unlock()
		f.views = append(f.views, SavedView{Name: p.Name, Query: p.Query})
		f.calls = append(f.calls, "save-view "+p.Name+" "+p.Query)
		return operator.Outcome{}, nil
	}
	return operator.Outcome{}, fmt.Errorf("fake backend: no %s", req.Action)
}

// resetResultOf is the engine's answer the fixture's preview stands for.
func resetResultOf(p ResetPreview) engine.ResetResult {
	events := func(ids []int64) []engine.Event {
		out := make([]engine.Event, len(ids))
		for i, id := range ids {
			out[i] = engine.Event{ID: id}
		}
		return out
	}
	return engine.ResetResult{ResetEventID: p.To, Kept: events(p.Kept), Dropped: events(p.Dropped), Reapplied: events(p.Reapplied), NewRunID: p.NewRunID}
}

// Took: the fake keeps no history of its writes.
func (f *fakeBackend) Took(ctx context.Context, req operator.Request, since time.Time) (bool, error) {
	if f.real != nil {
		return f.real.Took(ctx, req, since)
	}
	return false, nil
}

// Journal is a real batch journal on an embedded JetStream, started on
// the first batch (the harness runs commands on the test's goroutine).
func (f *fakeBackend) Journal(ctx context.Context) (operator.Journal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.journal == nil {
		f.journal = operatortest.Start(f.t).Journal
	}
	return f.journal, nil
}

func (f *fakeBackend) Views(ctx context.Context) ([]SavedView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.views), nil
}
