package query

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/foremanhq/foreman/visibility/fields"
)

// TestOnBleve runs parsed queries against a real scorch index with a
// static mapping of the field contract's kinds, so the semantics (NOT on
// its own, IS NULL, existence, wildcards on keywords, day equality) are
// checked where they matter, not only as query structure.
func TestOnBleve(t *testing.T) {
	idx := testIndex(t)
	day := 24 * time.Hour
	at := func(d time.Duration) time.Time { return testNow.Add(-d) }
	docs := map[string]map[string]any{
		"order-1": {"type": "Order", "status": "running", "execution_status": "running", "waiting_on": "approval", "approvals": []string{"manager"},
			"start_time": at(3 * day), "approval_since": at(2 * day), "history_length": 10,
			"attr": map[string]any{"CustomerId": "c-1", "Vip": true, "Amount": 1500.0}},
		"order-2": {"type": "Order", "status": "completed", "execution_status": "completed", "start_time": at(2 * time.Hour), "close_time": at(time.Hour),
			"duration_ms": 3600000, "history_length": 20, "result": `"TRK-2"`,
			"attr": map[string]any{"CustomerId": "c-2", "Vip": false, "Amount": 20.0}},
		"order-3": {"type": "Order", "status": "failed", "execution_status": "failed", "start_time": date("2026-11-01T10:00:00Z"),
			"close_time": date("2026-11-01T10:00:05Z"), "duration_ms": 5000, "history_length": 8,
			"failure": "card declined by issuer", "error_types": []string{"CardDeclined"}},
		"order-42": {"type": "Order", "status": "running", "execution_status": "running", "waiting_on": "signal", "start_time": at(time.Hour), "history_length": 5,
			"signals": "payment-confirmed {\"ref\":\"A-7\"}"},
		"pay-1": {"type": "Payment", "status": "running", "execution_status": "running", "waiting_on": "approval", "approvals": []string{"finance"},
			"start_time": at(90 * time.Minute), "approval_since": at(time.Hour), "history_length": 4},
		"pay-2": {"type": "Payment", "status": "terminated", "execution_status": "terminated", "start_time": at(5 * day), "close_time": at(4 * day), "history_length": 3,
			"failure": "terminated by alice: duplicate"},
		"x-42-y": {"type": "Refund", "status": "completed", "execution_status": "completed", "start_time": date("2026-11-01T23:59:59Z"),
			"close_time": date("2026-11-02T00:00:01Z"), "history_length": 6, "input": `{"reason":"card declined"}`},
	}
	b := idx.NewBatch()
	for id, d := range docs {
		d["workflow_id"] = id
		d["run_id"] = "r-" + id
		if err := b.Index(id, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.Batch(b); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		queries []string // equivalent queries, any dialect
		want    []string
	}{
		{[]string{`execution_status:running`, `ExecutionStatus = 'Running'`}, []string{"order-1", "order-42", "pay-1"}},
		{[]string{`execution_status:running type:Order`, `ExecutionStatus = 'Running' AND WorkflowType = 'Order'`}, []string{"order-1", "order-42"}},
		{[]string{`-execution_status:running`, `ExecutionStatus != 'Running'`, `NOT ExecutionStatus = 'Running'`},
			[]string{"order-2", "order-3", "pay-2", "x-42-y"}},
		{[]string{`type:Order -execution_status:running`, `WorkflowType = 'Order' AND ExecutionStatus NOT IN ('Running')`}, []string{"order-2", "order-3"}},
		{[]string{`-close_time:*`, `CloseTime IS NULL`}, []string{"order-1", "order-42", "pay-1"}},
		{[]string{`close_time:*`, `CloseTime IS NOT NULL`}, []string{"order-2", "order-3", "pay-2", "x-42-y"}},
		{[]string{`-CustomerId:*`, `CustomerId IS NULL`}, []string{"order-3", "order-42", "pay-1", "pay-2", "x-42-y"}},
		{[]string{`Vip:*`, `Vip IS NOT NULL`}, []string{"order-1", "order-2"}},
		{[]string{`Vip:false`, `Vip = false`}, []string{"order-2"}},
		{[]string{`Amount:>100`, `Amount > 100`}, []string{"order-1"}},
		{[]string{`workflow_id:*-42*`, `WorkflowId CONTAINS '-42'`, `WorkflowId LIKE '%-42%'`}, []string{"order-42", "x-42-y"}},
		{[]string{`workflow_id:order-*`, `WorkflowId STARTS_WITH 'order-'`}, []string{"order-1", "order-2", "order-3", "order-42"}},
		{[]string{`workflow_id:order-?`, `WorkflowId LIKE 'order-_'`}, []string{"order-1", "order-2", "order-3"}},
		{[]string{`failure:"card declined"`, `Failure = 'card declined'`}, []string{"order-3"}},
		{[]string{`"card declined"`}, []string{"order-3", "x-42-y"}},
		{[]string{`failure:"declined card"`}, nil},
		{[]string{`failure:declin*`}, []string{"order-3"}},
		{[]string{`failure:declnied~2`}, []string{"order-3"}},
		{[]string{`signals:"A-7"`}, []string{"order-42"}},
		{[]string{`approval_since:<now-24h`, `approval_since < now-1d`}, []string{"order-1"}},
		{[]string{`waiting_on:approval approval_since:<now-24h`, `WaitingOn = 'approval' AND ApprovalSince < 'now-24h'`}, []string{"order-1"}},
		{[]string{`start_time:2026-11-01`, `StartTime = '2026-11-01'`}, []string{"order-3", "x-42-y"}},
		{[]string{`start_time:>now-1d`, `StartTime > now-24h`}, []string{"order-2", "order-42", "pay-1"}},
		{[]string{`duration_ms:>=1h`, `ExecutionDuration >= '1h'`}, []string{"order-2"}},
		{[]string{`history_length:[4 TO 8]`, `HistoryLength BETWEEN 4 AND 8`}, []string{"order-3", "order-42", "pay-1", "x-42-y"}},
		{[]string{`history_length:{4 TO 8}`}, []string{"order-42", "x-42-y"}},
		{[]string{`approvals:finance OR error_types:CardDeclined`}, []string{"order-3", "pay-1"}},
		{[]string{`type:(Payment OR Refund) -execution_status:terminated`, `WorkflowType IN ('Payment','Refund') AND ExecutionStatus != 'Terminated'`}, []string{"pay-1", "x-42-y"}},
		{[]string{`workflow_id:/order-[0-9]/`}, []string{"order-1", "order-2", "order-3"}},
		{[]string{`workflow_id:[order-2 TO order-5]`}, []string{"order-2", "order-3", "order-42"}},
		// A negation of something that matches nothing is everything.
		{[]string{`-workflow_id:nope`, `WorkflowId != 'nope'`}, []string{"order-1", "order-2", "order-3", "order-42", "pay-1", "pay-2", "x-42-y"}},
		// A conjunction with something that matches nothing is nothing,
		// even beside a negation.
		{[]string{`workflow_id:[zz TO zzz] -execution_status:failed`, `WorkflowId BETWEEN 'zz' AND 'zzz' AND ExecutionStatus != 'Failed'`}, nil},
		{[]string{``}, []string{"order-1", "order-2", "order-3", "order-42", "pay-1", "pay-2", "x-42-y"}},
	}
	for _, c := range cases {
		for _, q := range c.queries {
			parsed, err := Parse(q, testSchema(), testNow)
			if err != nil {
				t.Errorf("Parse(%q): %v", q, err)
				continue
			}
			req := bleve.NewSearchRequestOptions(parsed, 100, 0, false)
			res, err := idx.Search(req)
			if err != nil {
				t.Errorf("search %q: %v", q, err)
				continue
			}
			var got []string
			for _, h := range res.Hits {
				got = append(got, h.ID)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s\n got %q\nwant %q", q, got, c.want)
			}
		}
	}
}

// testIndex is a scorch index with the contract's field kinds.
func testIndex(t *testing.T) bleve.Index {
	t.Helper()
	doc := mapping.NewDocumentStaticMapping()
	for _, f := range fields.Builtin {
		var fm *mapping.FieldMapping
		switch f.Kind {
		case KindKeyword:
			fm = mapping.NewKeywordFieldMapping()
		case KindText:
			fm = mapping.NewTextFieldMapping()
		case KindNumber:
			fm = mapping.NewNumericFieldMapping()
		case KindTime:
			fm = mapping.NewDateTimeFieldMapping()
		case KindBool:
			fm = mapping.NewBooleanFieldMapping()
		}
		doc.AddFieldMappingsAt(f.Name, fm)
	}
	attr := mapping.NewDocumentStaticMapping()
	attr.AddFieldMappingsAt("CustomerId", mapping.NewKeywordFieldMapping())
	attr.AddFieldMappingsAt("Vip", mapping.NewBooleanFieldMapping())
	attr.AddFieldMappingsAt("Amount", mapping.NewNumericFieldMapping())
	attr.AddFieldMappingsAt("Notes", mapping.NewTextFieldMapping())
	attr.AddFieldMappingsAt("DueAt", mapping.NewDateTimeFieldMapping())
	doc.AddSubDocumentMapping("attr", attr)
	m := mapping.NewIndexMapping()
	m.DefaultMapping = doc
	idx, err := bleve.New(filepath.Join(t.TempDir(), "idx"), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	return idx
}
