package operator_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/operator/operatortest"
)

// TestBatchInterruptedAndResumedActsOnceOnEveryRun stops a batch midway,
// with one run acted on but not journaled, and resumes it: every run ends
// cancelled exactly once, and the journal has every run done.
func TestBatchInterruptedAndResumedActsOnceOnEveryRun(t *testing.T) {
	const n = 24
	e := operatortest.Start(t)
	runs := e.StartIdle(t, "batch", n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lose := &operatortest.LoseAnswer{Actions: e.Actions, Lose: 7, OnLose: cancel}
	var mu sync.Mutex
	results := map[string][]operator.ItemResult{}
	runner := func(acts operator.Actions) *operator.Runner {
		return &operator.Runner{Actions: acts, Journal: e.Journal, Identity: "alice", Holder: "test", Rate: 500, Parallel: 3,
			OnResult: func(r operator.ItemResult, _ operator.Counts) {
				mu.Lock()
				results[r.RunID] = append(results[r.RunID], r)
				mu.Unlock()
			}}
	}
	b := operator.Batch{ID: "b-resume-test", Query: "test", Total: n,
		Request: operator.Request{Action: operator.ActCancel, Params: operator.Params{Reason: "maintenance"}}}

	first, err := runner(lose).Run(ctx, b, operator.List(runs))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Interrupted || first.Done >= n || first.Done < int(lose.Lose) {
		t.Fatalf("first pass %+v: want interrupted after at least %d of %d", first, lose.Lose, n)
	}

	second, err := runner(e.Actions).Run(context.Background(), b, operator.List(runs))
	if err != nil {
		t.Fatal(err)
	}
	if !second.Resumed || second.Interrupted || second.Failed != 0 || second.Done != n {
		t.Fatalf("resume %+v: want every one of %d runs handled, none failed", second, n)
	}
	for _, r := range runs {
		if got := e.CancelsOf(t, r); got != 1 {
			t.Errorf("%s was cancelled %d times, want once", r.WorkflowID, got)
		}
		rs := results[r.RunID]
		if last := rs[len(rs)-1]; lose.Lost(r.RunID) && !strings.Contains(last.Reason, "confirmed from history") {
			t.Errorf("%s acted on before the interruption: resume says %+v", r.WorkflowID, last)
		}
	}
	items, err := e.Journal.Items(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.State != jetstream.ItemOK {
			t.Errorf("journal: %s is %s", it.WorkflowID, it.State)
		}
	}
	if len(items) != n {
		t.Fatalf("journal: %d records, want %d", len(items), n)
	}
}

// TestBatchIsRateLimitedAndRefusedReadOnly: --rate spaces the actions;
// read-only refuses the batch before it is journaled.
func TestBatchIsRateLimitedAndRefusedReadOnly(t *testing.T) {
	e := operatortest.Start(t)
	runs := e.StartIdle(t, "rate", 11)
	r := &operator.Runner{Actions: e.Actions, Journal: e.Journal, Identity: "alice", Rate: 100, Parallel: 4}
	b := operator.Batch{Request: operator.Request{Action: operator.ActSignal, Params: operator.Params{Name: "poke"}}}
	start := time.Now()
	sum, err := r.Run(context.Background(), b, operator.List(runs))
	if err != nil || sum.OK != 11 {
		t.Fatalf("%+v %v", sum, err)
	}
	// a burst of one: the 11th action waits 10 intervals of 10ms
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Fatalf("11 actions at 100/s took %s, want at least 100ms", d)
	}

	ro := &operator.Runner{Actions: operator.ReadOnly(operator.Default, e.Actions), Journal: e.Journal, Identity: "alice"}
	b.ID = "b-read-only"
	if _, err := ro.Run(context.Background(), b, operator.List(runs)); err == nil || !strings.Contains(err.Error(), "--read-only") {
		t.Fatalf("read-only batch: %v", err)
	}
	if _, err := e.Journal.Get(context.Background(), b.ID); err == nil {
		t.Fatal("a refused batch was journaled")
	}
}
