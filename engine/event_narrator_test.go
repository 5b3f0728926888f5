package engine

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// The console's line for each event type, told from the history before it
// (the activity's name, how long it took, when the approval was asked).
func TestEventNarratorLines(t *testing.T) {
	t0 := time.Date(2026, 11, 3, 11, 18, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	f := &Failure{Type: "Timeout", Message: "warehouse\nAPI did not answer"}
	n := NewEventNarrator(LineFormat{
		Duration: func(d time.Duration) string { return fmt.Sprintf("<%s>", d) },
		Age:      func(d time.Duration) string { return fmt.Sprintf("[%s]", d) },
		Payload:  func(raw []byte) string { return "P" + string(raw) },
		RunID:    func(id string) string { return id[:3] },
	})
	for _, c := range []struct {
		e    Event
		line string
		fail bool
	}{
		{Event{Type: EventWorkflowStarted, Attrs: &WorkflowStarted{WorkflowType: "Order", TaskQueue: "q", Identity: "api", ResetFrom: "r0abc", Input: json.RawMessage(`{"a":1}`)}},
			`Order on queue q by api, reset from r0a P{"a":1}`, false},
		{Event{Type: EventWorkflowTaskCompleted, Attrs: &WorkflowTaskCompleted{Identity: "w1"}}, " by w1", false},
		{Event{Type: EventWorkflowTaskFailed, Attrs: &WorkflowTaskFailed{Code: "FM1", Message: "a\nb", Attempt: 2}}, "[FM1] a b (attempt 2)", true},
		{Event{Type: EventActivityScheduled, Time: at(0), Attrs: &ActivityScheduled{Seq: 1, ActivityType: "Reserve", TaskQueue: "q"}}, "Reserve (seq 1) on q", false},
		{Event{Type: EventActivityAttemptFailed, Time: at(time.Second), Attrs: &ActivityAttemptFailed{Seq: 1, Attempt: 1, Failure: f, NextAttempt: at(3 * time.Second)}},
			"Reserve attempt 1: Timeout: warehouse API did not answer; retry in <2s>", true},
		{Event{Type: EventActivityCompleted, Time: at(4 * time.Second), Attrs: &ActivityCompleted{Seq: 1, Attempt: 2, Result: json.RawMessage(`true`)}}, "Reserve took <4s> (attempt 2) Ptrue", false},
		{Event{Type: EventActivityScheduled, Time: at(5 * time.Second), Attrs: &ActivityScheduled{Seq: 2, ActivityType: "Ship", TaskQueue: "q"}}, "Ship (seq 2) on q", false},
		{Event{Type: EventActivityCancelRequested, Attrs: &ActivityCancelRequested{Seq: 2}}, "Ship", false},
		{Event{Type: EventActivityFailed, Time: at(7 * time.Second), Attrs: &ActivityFailed{Seq: 2, Attempt: 1}}, "Ship failed after 1 attempt(s), <2s>: unknown failure", true},
		{Event{Type: EventTimerStarted, Time: at(0), Attrs: &TimerStarted{Seq: 3, Duration: time.Minute, FireAt: at(time.Minute)}}, "<1m0s>, fires 11:19:00", false},
		{Event{Type: EventTimerFired, Time: at(61 * time.Second), Attrs: &TimerFired{Seq: 3}}, "after <1m1s>", false},
		{Event{Type: EventTimerCanceled, Attrs: &TimerCanceled{Seq: 4}}, "timer seq 4", false},
		{Event{Type: EventSignalReceived, Attrs: &SignalReceived{Name: "go", Payload: json.RawMessage(`null`)}}, "go", false},
		{Event{Type: EventMarkerRecorded, Attrs: &MarkerRecorded{Kind: "version", ID: "v2", Value: json.RawMessage(`1`)}}, "version v2 P1", false},
		{Event{Type: EventApprovalRequested, Time: at(0), Attrs: &ApprovalRequested{Seq: 5, Name: "ship", Description: "Ship\tit", Approvers: []string{"alice", "bob"}, Timeout: time.Hour}},
			"ship: Ship it (approvers alice, bob) timeout [1h0m0s]", false},
		{Event{Type: EventApprovalDecided, Time: at(time.Minute), Attrs: &ApprovalDecided{Seq: 5, Name: "ship", By: "alice", Comment: "ok"}}, "ship rejected by alice after [1m0s]: ok", false},
		{Event{Type: EventApprovalTimedOut, Time: at(time.Hour), Attrs: &ApprovalTimedOut{Seq: 5, Name: "ship"}}, "ship timed out after [1h0m0s]", true},
		{Event{Type: EventStatusSet, Attrs: &StatusSet{Text: `say "hi"`}}, `"say \"hi\""`, false},
		{Event{Type: EventProgressSet, Attrs: &ProgressSet{Done: 2, Total: 5}}, "2 of 5", false},
		{Event{Type: EventSearchAttributesUpserted, Attrs: &SearchAttributesUpserted{Attributes: map[string]SearchAttribute{"b": {Value: 2}, "a": {Value: "x"}}}}, `a="x" b=2`, false},
		{Event{Type: EventWorkflowCancelRequested, Attrs: &WorkflowCancelRequested{Identity: "ops"}}, "no reason given by ops", false},
		{Event{Type: EventWorkflowCompleted, Attrs: &WorkflowCompleted{Result: json.RawMessage(`"ok"`)}}, `result P"ok"`, false},
		{Event{Type: EventWorkflowFailed, Attrs: &WorkflowFailed{Failure: f}}, "Timeout: warehouse API did not answer", true},
		{Event{Type: EventWorkflowCanceled, Attrs: &WorkflowCanceled{}}, "", false},
		{Event{Type: EventWorkflowTerminated, Attrs: &WorkflowTerminated{Reason: "stuck", Identity: "ops"}}, `"stuck" by ops`, true},
		{Event{Type: EventWorkflowContinuedAsNew, Attrs: &WorkflowContinuedAsNew{NewRunID: "r2"}}, "new run r2", false},
		{Event{Type: EventWorkflowReset, Attrs: &WorkflowReset{NewRunID: "r3"}}, "", false},
		{Event{Type: EventResetApplied, Attrs: &ResetApplied{}}, "", false},
		{Event{Type: EventRunCompensated, Attrs: &RunCompensated{}}, "", false},
		{Event{Type: "NoSuchEvent"}, "", false},
	} {
		line, fail := n.Describe(c.e)
		if line != c.line || fail != c.fail {
			t.Errorf("%s: line %q failure %v, want %q %v", c.e.Type, line, fail, c.line, c.fail)
		}
	}
}
