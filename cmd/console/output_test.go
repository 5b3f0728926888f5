package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// A query error says what was expected once, however the parser put it.
func TestQueryErrorSaysWhatWasExpectedOnce(t *testing.T) {
	err := &queryError{api: &searchapi.APIError{Code: "bad_query", Message: `at 18: expected a value after "=", found end of query`, Pos: 18,
		Expected: "a value"}, query: `ExecutionStatus =`}
	if n := strings.Count(err.Error(), "expected"); n != 1 {
		t.Fatalf("%q says expected %d times", err.Error(), n)
	}
}

// A flag error names the command it is about, once.
func TestFlagErrorsNameTheCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "--bogus"}, "foreman list: flag provided but not defined: -bogus\nRun 'foreman help list' for usage.\n"},
		{[]string{"count", "--group-by"}, "foreman count: flag needs an argument: -group-by\nRun 'foreman help count' for usage.\n"},
		{[]string{"--bogus", "list"}, "foreman: flag provided but not defined: -bogus\nRun 'foreman help' for usage.\n"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, stdio{in: strings.NewReader(""), out: &out, err: &errb}, func(string) string { return "" })
		if code != exitUsage || errb.String() != c.want {
			t.Errorf("%q: exit %d, stderr\n%s\nwant\n%s", c.args, code, errb.String(), c.want)
		}
	}
}

// A reset that would drop nothing says so.
func TestResetThatChangesNothingWarns(t *testing.T) {
	var b bytes.Buffer
	if err := printReset(&b, engine.ResetResult{WorkflowID: "wf", OldRunID: "r1", ResetEventID: 7, DryRun: true,
		Kept: make([]engine.Event, 7)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "drops nothing") {
		t.Fatalf("no warning:\n%s", b.String())
	}
	b.Reset()
	_ = printReset(&b, engine.ResetResult{WorkflowID: "wf", OldRunID: "r1", ResetEventID: 7, DryRun: true,
		Dropped: []engine.Event{{ID: 8, Type: engine.EventTimerStarted, Attrs: &engine.TimerStarted{Seq: 1}}}})
	if strings.Contains(b.String(), "drops nothing") {
		t.Fatalf("warned on a reset that drops an event:\n%s", b.String())
	}
}

// A run made by a reset shows when the reset made it as its start.
func TestShowGivesAResetRunItsOwnStart(t *testing.T) {
	old := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	events := []engine.Event{
		{ID: 1, Type: engine.EventWorkflowStarted, Time: old, Attrs: &engine.WorkflowStarted{WorkflowID: "wf", RunID: "new", ResetFrom: "r-old"}},
		{ID: 2, Type: engine.EventResetApplied, Time: at, Attrs: &engine.ResetApplied{FromRunID: "r-old", ToEventID: 1}},
	}
	var b bytes.Buffer
	if err := printExecution(&b, shown{Execution: engine.Summarize(events), ResetAt: resetTime(events)}); err != nil {
		t.Fatal(err)
	}
	var started string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "Started") {
			started = l
		}
	}
	if !strings.Contains(started, when(at)) || !strings.Contains(started, "reset from run r-old") {
		t.Fatalf("Started line %q: want the reset's time %s", started, when(at))
	}
}

// list -o json says how long a run has run: for a running run the time
// since its start, not the index's time to its newest event.
func TestListedDurationsAreTruthful(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	docs := listed([]searchapi.Doc{
		{WorkflowID: "running", StartTime: now.Add(-26 * time.Hour), DurationMS: 1},
		{WorkflowID: "closed", StartTime: now.Add(-time.Hour), CloseTime: now.Add(-time.Hour + 1500*time.Millisecond), DurationMS: 1500},
	}, now)
	if docs[0].Duration != "26h0m0s" || docs[0].DurationMS != (26*time.Hour).Milliseconds() {
		t.Fatalf("running run: duration %q, duration_ms %d", docs[0].Duration, docs[0].DurationMS)
	}
	if docs[1].Duration != "1.5s" || docs[1].DurationMS != 1500 {
		t.Fatalf("closed run: duration %q, duration_ms %d", docs[1].Duration, docs[1].DurationMS)
	}
}
