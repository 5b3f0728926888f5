package main_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

// `foreman update -q` amends every waiting expense of a query: an input
// the validator refuses is refused on every run and leaves every history
// as it was; an accepted one completes once per run with the handler's
// result; the same batch again with the same update id is answered with
// the first outcome and records nothing more.
func TestBatchUpdateByQuery(t *testing.T) {
	e := startEngine(t)
	const n = 12
	for i := range n {
		e.ok(t, "boss", "start", "ExpenseApproval", "--id", fmt.Sprintf("amend-%02d", i), "--queue", examples.ExpenseQueue,
			"--input", fmt.Sprintf(`{"expense_id":"a%d","amount":4000,"submitter":"bob"}`, i))
	}
	query := "type:ExpenseApproval workflow_id:amend-* waiting_on:approval"
	waitFor(t, "the index to see the expenses waiting", 60*time.Second, func() (bool, string) {
		r := e.fm(t, "boss", nil, "count", query)
		return strings.TrimSpace(r.stdout) == fmt.Sprint(n), r.String()
	})
	lengths := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("amend-%02d", i)
		lengths[id] = len(e.historyOf(t, id))
	}

	// Refused by the validator: no run records anything.
	r := e.fm(t, "boss", nil, "update", "-q", query, examples.UpdateAmend, "--input", `{"amount":-5}`, "--yes", "-o", "jsonl")
	refused := jsonLines[itemLine](t, r.stdout)
	if len(refused) != n {
		t.Fatalf("refused batch: %d result lines, want %d\n%s", len(refused), n, r)
	}
	for _, l := range refused {
		if l.Result != "error" || !strings.Contains(l.Reason+l.Detail, "amount must be positive") {
			t.Fatalf("refused update's line %+v, want an error naming the validator's reason", l)
		}
	}
	for id, want := range lengths {
		if got := len(e.historyOf(t, id)); got != want {
			t.Fatalf("%s: a refused update changed its history from %d to %d events", id, want, got)
		}
	}

	// Accepted: one completion per run, with the handler's result.
	args := []string{"update", "-q", query, examples.UpdateAmend, "--input", `{"amount":4500,"reason":"typo"}`, "--update-id", "amend-typo", "--yes", "-o", "jsonl"}
	for round := range 2 { // the second time, the same id: the first outcome, nothing recorded
		lines := jsonLines[itemLine](t, e.ok(t, "boss", args...).stdout)
		if len(lines) != n {
			t.Fatalf("round %d: %d result lines, want %d", round, len(lines), n)
		}
		for _, l := range lines {
			if l.Result != "ok" {
				t.Fatalf("round %d: %+v", round, l)
			}
		}
		for i := range n {
			id := fmt.Sprintf("amend-%02d", i)
			done := eventsOf[engine.UpdateCompleted](e.historyOf(t, id))
			var got examples.Amended
			if len(done) == 1 {
				_ = json.Unmarshal(done[0].Result, &got)
			}
			if len(done) != 1 || done[0].UpdateID != "amend-typo" || done[0].Failure != nil || got.Previous != 4000 || got.Amount != 4500 {
				t.Fatalf("round %d: %s: %d completed updates (%+v), want one amend-typo from 4000 to 4500", round, id, len(done), got)
			}
		}
	}
	waitFor(t, "the index to see every amended amount", 60*time.Second, func() (bool, string) {
		r := e.fm(t, "boss", nil, "count", "workflow_id:amend-* Amount:4500")
		return strings.TrimSpace(r.stdout) == fmt.Sprint(n), r.String()
	})
}
