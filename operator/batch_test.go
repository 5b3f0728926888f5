package operator_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/operator"
)

// fixture is a real engine on an embedded JetStream with n running runs.
type fixture struct {
	c       *engine.Client
	journal *jetstream.Batches
	acts    operator.Actions
	runs    []operator.Target
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	store, _ := jstest.Start(t)
	ctx := context.Background()
	j, err := jetstream.OpenBatches(ctx, store.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	c := engine.NewClient(store, engine.ClientOptions{Identity: "alice"})
	f := &fixture{c: c, journal: j}
	f.acts = operator.New(operator.Default, func(context.Context) (operator.Env, error) {
		return operator.Env{Client: c, Identity: c.Identity()}, nil
	})
	for i := range n {
		// no worker serves the queue: the runs stay running, which is all
		// a cancel needs
		r, err := c.Start(ctx, engine.StartOptions{ID: fmt.Sprintf("batch-%02d", i), TaskQueue: "nobody"}, "Idle", nil)
		if err != nil {
			t.Fatal(err)
		}
		f.runs = append(f.runs, operator.Target{WorkflowID: r.WorkflowID, RunID: r.RunID})
	}
	return f
}

// cancelsOf counts the cancel requests in a run's history.
func (f *fixture) cancelsOf(t *testing.T, r operator.Target) int {
	t.Helper()
	events, err := f.c.History(context.Background(), r.WorkflowID, r.RunID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if _, ok := e.Attrs.(*engine.WorkflowCancelRequested); ok {
			n++
		}
	}
	return n
}

// interrupter performs actions until the stop-th, which it performs and
// then reports as timed out (the process died before hearing back), and
// stops the batch there.
type interrupter struct {
	operator.Actions
	stop   int32
	n      atomic.Int32
	cancel context.CancelFunc
	lost   sync.Map // run id -> true: acted on, outcome not heard
}

func (i *interrupter) Perform(ctx context.Context, req operator.Request) (operator.Outcome, error) {
	out, err := i.Actions.Perform(ctx, req)
	if i.n.Add(1) == i.stop {
		i.lost.Store(req.Target.RunID, true)
		i.cancel()
		return operator.Outcome{}, context.DeadlineExceeded
	}
	return out, err
}

// TestBatchInterruptedAndResumedActsOnceOnEveryRun stops a batch midway,
// with one run acted on but not journaled, and resumes it: every run ends
// cancelled exactly once, and the journal has every run done.
func TestBatchInterruptedAndResumedActsOnceOnEveryRun(t *testing.T) {
	const n = 24
	f := newFixture(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	intr := &interrupter{Actions: f.acts, stop: 7, cancel: cancel}
	var mu sync.Mutex
	results := map[string][]operator.ItemResult{}
	runner := func(acts operator.Actions) *operator.Runner {
		return &operator.Runner{Actions: acts, Journal: f.journal, Identity: "alice", Holder: "test", Rate: 500, Parallel: 3,
			OnResult: func(r operator.ItemResult, _ operator.Counts) {
				mu.Lock()
				results[r.RunID] = append(results[r.RunID], r)
				mu.Unlock()
			}}
	}
	b := operator.Batch{ID: "b-resume-test", Query: "test", Total: n,
		Request: operator.Request{Action: operator.ActCancel, Params: operator.Params{Reason: "maintenance"}}}

	first, err := runner(intr).Run(ctx, b, operator.List(f.runs))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Interrupted || first.Done >= n || first.Done < int(intr.stop) {
		t.Fatalf("first pass %+v: want interrupted after at least %d of %d", first, intr.stop, n)
	}

	second, err := runner(f.acts).Run(context.Background(), b, operator.List(f.runs))
	if err != nil {
		t.Fatal(err)
	}
	if !second.Resumed || second.Interrupted || second.Failed != 0 || second.Done != n {
		t.Fatalf("resume %+v: want every one of %d runs handled, none failed", second, n)
	}
	for _, r := range f.runs {
		if got := f.cancelsOf(t, r); got != 1 {
			t.Errorf("%s was cancelled %d times, want once", r.WorkflowID, got)
		}
		rs := results[r.RunID]
		last := rs[len(rs)-1]
		if _, lost := intr.lost.Load(r.RunID); lost && !strings.Contains(last.Reason, "confirmed from history") {
			t.Errorf("%s acted on before the interruption: resume says %+v", r.WorkflowID, last)
		}
	}
	items, err := f.journal.Items(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, it := range items {
		if it.State == jetstream.ItemOK {
			done++
		}
	}
	if len(items) != n || done != n {
		t.Fatalf("journal: %d records, %d ok, want %d ok", len(items), done, n)
	}
}

// TestBatchIsRateLimitedAndRefusedReadOnly: --rate spaces the actions;
// read-only refuses the batch before it is journaled.
func TestBatchIsRateLimitedAndRefusedReadOnly(t *testing.T) {
	f := newFixture(t, 11)
	r := &operator.Runner{Actions: f.acts, Journal: f.journal, Identity: "alice", Rate: 100, Parallel: 4}
	b := operator.Batch{Request: operator.Request{Action: operator.ActSignal, Params: operator.Params{Name: "poke"}}}
	start := time.Now()
	sum, err := r.Run(context.Background(), b, operator.List(f.runs))
	if err != nil || sum.OK != 11 {
		t.Fatalf("%+v %v", sum, err)
	}
	// a burst of one: the 11th action waits 10 intervals of 10ms
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Fatalf("11 actions at 100/s took %s, want at least 100ms", d)
	}

	ro := &operator.Runner{Actions: operator.ReadOnly(operator.Default, f.acts), Journal: f.journal, Identity: "alice"}
	b.ID = "b-read-only"
	if _, err := ro.Run(context.Background(), b, operator.List(f.runs)); err == nil || !strings.Contains(err.Error(), "--read-only") {
		t.Fatalf("read-only batch: %v", err)
	}
	if _, err := f.journal.Get(context.Background(), b.ID); err == nil {
		t.Fatal("a refused batch was journaled")
	}
}
