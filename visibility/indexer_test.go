package visibility_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility"
)

// ixIDs returns the workflow ids matching q, sorted by workflow id.
func ixIDs(t *testing.T, ix *visibility.Index, q string) []string {
	t.Helper()
	res, err := ix.Search(context.Background(), visibility.SearchRequest{Query: q, Sort: []string{"workflow_id"}, Size: 100})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	var ids []string
	for _, d := range res.Hits {
		ids = append(ids, d.WorkflowID)
	}
	if uint64(len(ids)) != res.Total {
		t.Errorf("search %q: total %d, %d hits", q, res.Total, len(ids))
	}
	return ids
}

func ixDoc(t *testing.T, ix *visibility.Index, workflowID string) visibility.Doc {
	t.Helper()
	res, err := ix.Get(context.Background(), visibility.GetRequest{WorkflowIDs: []string{workflowID}})
	if err != nil || len(res.Docs) != 1 {
		t.Fatalf("get %s: %+v %v", workflowID, res, err)
	}
	return res.Docs[0]
}

// Real workflows in every state; each document's fields have the values
// their histories say, and each field answers queries.
func TestIndexerDocuments(t *testing.T) {
	e := newIxEnv(t)
	ix, _ := e.openIndex(t.TempDir())

	e.start("order-1", ixOrder, ixOrderIn{ID: "1", Customer: "cust-7", Amount: 150})
	e.start("order-2", ixOrder, ixOrderIn{ID: "2", Customer: "cust-8", Amount: 20, Decline: true})
	e.start("approval-1", ixWaitApproval, "order 9")
	e.start("signal-1", ixWaitSignal, "x")
	e.start("retry-1", ixRetrying, "parcel 4")
	e.start("sleep-1", ixSleeper, "")
	e.start("term-1", ixWaitApproval, "order 10")
	for _, id := range []string{"order-1", "order-2"} {
		_ = e.client.GetResult(e.ctx, id, "", nil)
	}
	describe := func(id string) *engine.Execution {
		x, err := e.client.Describe(e.ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	e.waitUntil("pending approvals", func() error {
		if len(describe("approval-1").Approvals) == 0 || len(describe("term-1").Approvals) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	e.waitUntil("signal-1 waiting", func() error {
		if describe("signal-1").HistoryLength < 2 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if err := e.client.Signal(e.ctx, "signal-1", "", "go", "green light"); err != nil {
		t.Fatal(err)
	}
	ops := engine.NewClient(e.store, engine.ClientOptions{Identity: "ops-bob"})
	if err := ops.Terminate(e.ctx, "term-1", "", "customer gone"); err != nil {
		t.Fatal(err)
	}
	e.waitUntil("states", func() error {
		if describe("signal-1").StatusLine != "got green light" {
			return fmt.Errorf("signal-1 not past go")
		}
		if as := describe("retry-1").Activities; len(as) != 1 || as[0].Attempt != 2 {
			return fmt.Errorf("retry-1: %+v", as)
		}
		if len(describe("sleep-1").Timers) != 1 {
			return fmt.Errorf("sleep-1 has no timer")
		}
		return nil
	})
	e.caughtUp(ix)

	o1 := ixDoc(t, ix, "order-1")
	if o1.Status != engine.StatusCompleted || o1.Type != "ixOrder" || o1.TaskQueue != ixQueue || string(o1.Result) != `"TRK-1"` ||
		o1.StatusLine != "shipped" || o1.Progress == nil || *o1.Progress != (engine.Progress{Done: 2, Total: 2}) ||
		o1.CloseTime.IsZero() || !o1.LastEventTime.Equal(o1.CloseTime) || o1.DurationMS != o1.CloseTime.Sub(o1.StartTime).Milliseconds() ||
		o1.WaitingOn != "" || o1.HistoryLength < 10 || o1.SearchAttributes["CustomerId"].Value != "cust-7" {
		t.Errorf("order-1: %+v", o1)
	}
	var in ixOrderIn
	if err := json.Unmarshal(o1.Input, &in); err != nil || in.Customer != "cust-7" {
		t.Errorf("order-1 input %s: %v", o1.Input, err)
	}
	o2 := ixDoc(t, ix, "order-2")
	if o2.Status != engine.StatusFailed || o2.LastFailure == nil || o2.LastFailure.Type != "CardDeclined" {
		t.Errorf("order-2: %+v %+v", o2, o2.LastFailure)
	}
	a1 := ixDoc(t, ix, "approval-1")
	if a1.Status != engine.StatusRunning || a1.WaitingOn != "approval" || len(a1.PendingApprovals) != 1 ||
		a1.PendingApprovals[0].Name != "manager" || a1.StatusLine != "waiting for the manager" || !a1.CloseTime.IsZero() ||
		a1.DurationMS != a1.LastEventTime.Sub(a1.StartTime).Milliseconds() {
		t.Errorf("approval-1: %+v", a1)
	}
	r1 := ixDoc(t, ix, "retry-1")
	if r1.WaitingOn != "retry" || r1.Attempts != 2 || len(r1.PendingActivities) != 1 || r1.LastFailure == nil || r1.LastFailure.Type != "CarrierDown" {
		t.Errorf("retry-1: %+v", r1)
	}
	if d := ixDoc(t, ix, "term-1"); d.Status != engine.StatusTerminated || d.WaitingOn != "" || len(d.PendingApprovals) != 0 {
		t.Errorf("term-1: %+v", d)
	}

	// Each field of the contract, queried in both dialects where it matters.
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"status:completed", []string{"order-1"}},
		{"ExecutionStatus = 'Failed'", []string{"order-2"}},
		{"status:running", []string{"approval-1", "retry-1", "signal-1", "sleep-1"}},
		{"waiting_on:approval", []string{"approval-1"}},
		{"waiting_on:retry", []string{"retry-1"}},
		{"waiting_on:timer", []string{"sleep-1"}},
		{"waiting_on:signal", []string{"signal-1"}},
		{"approvals:manager", []string{"approval-1"}},
		{"approval_since:>2000-01-01", []string{"approval-1"}},
		{"type:ixOrder", []string{"order-1", "order-2"}},
		{"WorkflowType = 'ixWaitApproval'", []string{"approval-1", "term-1"}},
		{"task_queue:vis -type:ixOrder -type:ixWaitApproval -type:ixWaitSignal", []string{"retry-1", "sleep-1"}},
		{"activities:ixCharge", []string{"order-1", "order-2"}},
		{"pending_activities:ixFlaky", []string{"retry-1"}},
		{"attempts:>=2", []string{"retry-1"}},
		{"error_types:CardDeclined", []string{"order-2"}},
		{"error_types:CarrierDown", []string{"retry-1"}},
		{`failure:"card declined"`, []string{"order-2"}},
		{`failure:"customer gone"`, []string{"term-1"}},
		{"signal_names:go", []string{"signal-1"}},
		{`signals:"green light"`, []string{"signal-1"}},
		{"actors:ops-bob", []string{"term-1"}},
		{"actors:tester", []string{"approval-1", "order-1", "order-2", "retry-1", "signal-1", "sleep-1", "term-1"}},
		{`status_line:"got green light"`, []string{"signal-1"}},
		{"history:ApprovalRequested", []string{"approval-1", "term-1"}},
		{"history:ixFlaky", []string{"retry-1"}},
		{`"carrier unavailable"`, []string{"retry-1"}},
		{`input:"cust-8"`, []string{"order-2"}},
		{`input:20 input:true`, []string{"order-2"}}, // numbers and booleans are values too
		{`input:customer`, nil},                      // payload keys are not text (payloadText)
		{`result:"TRK-1"`, []string{"order-1"}},
		{"progress_pct:100", []string{"order-1"}},
		{"progress_done:1 progress_total:2", []string{"order-2"}},
		{"progress_done:<2 progress_total:<3", []string{"order-2"}},
		{"progress_total:>=2", []string{"order-1", "order-2"}},
		{"history_length:>=10 status:completed", []string{"order-1"}},
		{"close_time:>2000-01-01 type:ixOrder", []string{"order-1", "order-2"}},
		{"duration_ms:>=0 type:ixWaitSignal", []string{"signal-1"}},
		{"last_event_time:>2000-01-01 workflow_id:order-*", []string{"order-1", "order-2"}},
		{"CustomerId = 'cust-7'", []string{"order-1"}},
		{"attr.Amount:>100", []string{"order-1"}},
		{"Items = 3", []string{"order-1", "order-2"}},
		{"Vip = true", []string{"order-1"}},
		{`Note:"wrapped for cust-8"`, []string{"order-2"}},
		{"DueAt = '2026-12-24T18:00:00Z'", []string{"order-1", "order-2"}},
	} {
		if got := ixIDs(t, ix, c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
	byID := map[string]visibility.Doc{}
	for _, d := range ixAllDocs(t, ix) {
		byID[d.WorkflowID] = d
	}
	if len(byID) != 7 {
		t.Fatalf("%d documents, want 7", len(byID))
	}
	res, err := ix.Get(context.Background(), visibility.GetRequest{RunIDs: []string{byID["sleep-1"].RunID, "no-such-run"}})
	if err != nil || len(res.Docs) != 1 || !reflect.DeepEqual(res.Docs[0], byID["sleep-1"]) || !slices.Equal(res.Missing, []string{"no-such-run"}) {
		t.Errorf("get by run id: %+v %v", res, err)
	}
	c, err := ix.Count(context.Background(), visibility.CountRequest{GroupBy: "ExecutionStatus"})
	want := []visibility.Group{{Value: "running", Count: 4}, {Value: "completed", Count: 1}, {Value: "failed", Count: 1}, {Value: "terminated", Count: 1}}
	if err != nil || c.Total != 7 || !reflect.DeepEqual(c.Groups, want) {
		t.Errorf("count by status: %+v %v", c, err)
	}
	c, err = ix.Count(context.Background(), visibility.CountRequest{Query: "type:ixOrder", GroupBy: "status"})
	if err != nil || c.Total != 2 || len(c.Groups) != 2 {
		t.Errorf("count of orders by status: %+v %v", c, err)
	}
	c, err = ix.Count(context.Background(), visibility.CountRequest{Query: `"order" -status:terminated`, GroupBy: "type"})
	want = []visibility.Group{{Value: "ixOrder", Count: 1}, {Value: "ixWaitApproval", Count: 1}}
	if err != nil || c.Total != 2 || !reflect.DeepEqual(c.Groups, want) {
		t.Errorf("count with a phrase, by type: %+v %v", c, err)
	}

	// The indexer's own batch decoder reads every batch of these histories
	// exactly as the engine's does.
	last, _ := e.store.LastHistorySeq(e.ctx)
	n := 0
	errDone := errors.New("done")
	err = e.store.ConsumeHistoryFrom(e.ctx, 0, 100, func(bs []engine.StoredBatch) error {
		for _, b := range bs {
			var want engine.Batch
			if err := json.Unmarshal(b.Data, &want); err != nil {
				t.Fatal(err)
			}
			got, err := visibility.DecodeEvents(b.Data)
			if err != nil || !reflect.DeepEqual(got, want.Events) {
				t.Fatalf("batch %d decoded as %+v (%v), the engine reads %+v", b.Seq, got, err, want.Events)
			}
			n++
			if b.Seq >= last {
				return errDone
			}
		}
		return nil
	})
	if !errors.Is(err, errDone) || n < 12 { // (a start is stored with its first task: engine/local.go)
		t.Fatalf("compared %d batches: %v", n, err)
	}
}
