package main_test

import (
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// count --group-by adds up; a batch with -o json and nothing to do prints
// []; --run takes the 8 characters the console shows.
func TestCountAddsUpEmptyBatchAndRunPrefix(t *testing.T) {
	e := sharedEngine(t)
	var runs []started
	for _, id := range []string{"cli-sum-a", "cli-sum-b", "cli-sum-c"} {
		runs = append(runs, startGate(t, e, id))
		e.waitApproval(t, id, "release")
	}
	e.ok(t, "ops", "terminate", "cli-sum-c", "--yes", "--reason", "test") // waits on nothing now
	q := "workflow_id:cli-sum-*"
	type counted struct {
		searchapi.CountResult
		Other *uint64 `json:"other"`
	}
	var c counted
	waitFor(t, "the index to see the terminated run", 20*time.Second, func() (bool, string) {
		r := e.fm(t, "ops", nil, "count", q, "--group-by", "waiting_on", "-o", "json")
		c = jsonOut[counted](t, r)
		return c.Total == 3 && len(c.Groups) == 1 && c.Groups[0].Count == 2, r.stdout
	})
	if c.Other == nil || *c.Other != 1 {
		t.Fatalf("count -o json: other = %v, want 1 (the run waiting on nothing)", c.Other)
	}
	table := e.ok(t, "ops", "count", q, "--group-by", "waiting_on").stdout
	if !strings.Contains(table, "(none)") || !strings.Contains(table, "TOTAL") {
		t.Fatalf("count table does not add up:\n%s", table)
	}

	r := e.ok(t, "ops", "cancel", "-q", "workflow_id:cli-sum-nothing-*", "--yes", "-o", "json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("empty batch -o json printed %q", r.stdout)
	}

	short := runs[0].RunID[:8]
	x := jsonOut[engine.Execution](t, e.ok(t, "ops", "show", "cli-sum-a", "--run", short, "-o", "json"))
	if x.RunID != runs[0].RunID {
		t.Fatalf("--run %s showed run %s, want %s", short, x.RunID, runs[0].RunID)
	}
	e.fails(t, "ops", 3, "no run of cli-sum-a starts with", "show", "cli-sum-a", "--run", "zzzzzzzz")
}
