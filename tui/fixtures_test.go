package tui

import (
	"encoding/json"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// testClock is the fixed "now" of every test.
var testClock = time.Date(2026, 11, 3, 14, 30, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return testClock.Add(-d) }

// fixtureDocs is a small, varied fleet: approvals, retries, a failing
// workflow task, signals, and closed runs of every kind.
func fixtureDocs() []searchapi.Doc {
	return []searchapi.Doc{
		{WorkflowID: "order-1001", RunID: "r1001-7f3a9c21", Type: "OrderWorkflow", TaskQueue: "orders", Status: engine.StatusRunning,
			StartTime: ago(3*time.Hour + 12*time.Minute), HistoryLength: 14, StatusLine: "waiting for manager approval",
			Progress: &engine.Progress{Done: 2, Total: 5}, WaitingOn: "approval", LastEventTime: ago(2 * time.Hour),
			PendingApprovals: []engine.PendingApproval{{Seq: 4, Name: "ship-order", Description: "Ship 3 items to Lyon, total 1,240 EUR", Approvers: []string{"alice", "bob"}, RequestedAt: ago(2 * time.Hour)}}},
		{WorkflowID: "order-1002", RunID: "r1002-0b44e810", Type: "OrderWorkflow", TaskQueue: "orders", Status: engine.StatusRunning,
			StartTime: ago(50 * time.Minute), HistoryLength: 21, StatusLine: "charging card", Progress: &engine.Progress{Done: 3, Total: 5},
			WaitingOn: "retry", Attempts: 4, LastEventTime: ago(20 * time.Minute), LastFailure: &engine.Failure{Type: "CardDeclined", Message: "card declined by issuer"},
			PendingActivities: []engine.PendingActivity{{Seq: 5, ActivityType: "Charge", Attempt: 4, ScheduledAt: ago(45 * time.Minute), LastFailure: &engine.Failure{Type: "CardDeclined", Message: "card declined by issuer"}, NextAttempt: testClock.Add(40 * time.Second)}}},
		{WorkflowID: "refund-77", RunID: "r0077-91d2aa03", Type: "RefundWorkflow", TaskQueue: "payments", Status: engine.StatusRunning,
			StartTime: ago(26 * time.Hour), HistoryLength: 9, WaitingOn: "approval", LastEventTime: ago(25 * time.Hour),
			PendingApprovals: []engine.PendingApproval{
				{Seq: 2, Name: "finance", Description: "Refund 89 EUR to card ending 4242", RequestedAt: ago(25 * time.Hour)},
				{Seq: 3, Name: "risk", Description: "Customer flagged by fraud rules", Approvers: []string{"carol"}, RequestedAt: ago(24 * time.Hour)}}},
		{WorkflowID: "import-2026-11", RunID: "rimp-5c5c0d0d", Type: "ImportWorkflow", TaskQueue: "batch", Status: engine.StatusRunning,
			StartTime: ago(15 * time.Minute), HistoryLength: 311, StatusLine: "importing file 3 of 4", Progress: &engine.Progress{Done: 3, Total: 4},
			WaitingOn: "activity", LastEventTime: ago(5 * time.Second),
			PendingActivities: []engine.PendingActivity{{Seq: 40, ActivityType: "ImportFile", Attempt: 1, ScheduledAt: ago(30 * time.Second)}}},
		{WorkflowID: "order-0999", RunID: "r0999-aa11bb22", Type: "OrderWorkflow", TaskQueue: "orders", Status: engine.StatusRunning,
			StartTime: ago(6 * time.Hour), HistoryLength: 8, WaitingOn: "task_failure", LastEventTime: ago(5 * time.Hour),
			LastFailure: &engine.Failure{Type: "NonDeterminism", Message: "history has ActivityScheduled Charge, code issued TimerStarted"}},
		{WorkflowID: "onboard-alice", RunID: "rob1-12345678", Type: "OnboardingWorkflow", TaskQueue: "people", Status: engine.StatusRunning,
			StartTime: ago(4 * 24 * time.Hour), HistoryLength: 6, StatusLine: "waiting for the laptop-delivered signal", WaitingOn: "signal", LastEventTime: ago(3 * 24 * time.Hour)},
		{WorkflowID: "order-0998", RunID: "r0998-cafe0001", Type: "OrderWorkflow", TaskQueue: "orders", Status: engine.StatusCompleted,
			StartTime: ago(7 * time.Hour), CloseTime: ago(7*time.Hour - 95*time.Second), HistoryLength: 27, StatusLine: "shipped", Progress: &engine.Progress{Done: 5, Total: 5}, LastEventTime: ago(7 * time.Hour)},
		{WorkflowID: "order-0997", RunID: "r0997-dead0002", Type: "OrderWorkflow", TaskQueue: "orders", Status: engine.StatusFailed,
			StartTime: ago(8 * time.Hour), CloseTime: ago(8*time.Hour - 12*time.Minute), HistoryLength: 33, LastEventTime: ago(8 * time.Hour),
			LastFailure: &engine.Failure{Type: "ActivityError", Message: "activity ReserveStock failed after 5 attempts: out of stock"}},
		{WorkflowID: "order-0996", RunID: "r0996-beef0003", Type: "OrderWorkflow", TaskQueue: "orders", Status: engine.StatusTerminated,
			StartTime: ago(9 * time.Hour), CloseTime: ago(8 * time.Hour), HistoryLength: 12, LastEventTime: ago(8 * time.Hour),
			LastFailure: &engine.Failure{Type: "Terminated", Message: "duplicate order"}},
		{WorkflowID: "refund-76", RunID: "r0076-0c0c0c0c", Type: "RefundWorkflow", TaskQueue: "payments", Status: engine.StatusCanceled,
			StartTime: ago(30 * time.Hour), CloseTime: ago(29 * time.Hour), HistoryLength: 7, LastEventTime: ago(29 * time.Hour)},
		{WorkflowID: "report-daily", RunID: "rrep-0d0d0d0d", Type: "ReportWorkflow", TaskQueue: "batch", Status: engine.StatusContinuedAsNew,
			StartTime: ago(48 * time.Hour), CloseTime: ago(24 * time.Hour), HistoryLength: 2001, LastEventTime: ago(24 * time.Hour)},
	}
}

// fixtureHistory is order-1001's history: an activity that failed once,
// a status line, progress, and a pending approval.
func fixtureHistory() []engine.Event {
	t0 := ago(3*time.Hour + 12*time.Minute)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	return []engine.Event{
		{ID: 1, Type: engine.EventWorkflowStarted, Time: at(0), Attrs: &engine.WorkflowStarted{WorkflowID: "order-1001", RunID: "r1001-7f3a9c21",
			WorkflowType: "OrderWorkflow", TaskQueue: "orders", Input: json.RawMessage(`{"order":"1001","items":3,"total":1240}`), Identity: "shop-api"}},
		{ID: 2, Type: engine.EventWorkflowTaskCompleted, Time: at(40 * time.Millisecond), Attrs: &engine.WorkflowTaskCompleted{Identity: "worker-1"}},
		{ID: 3, Type: engine.EventActivityScheduled, Time: at(40 * time.Millisecond), Attrs: &engine.ActivityScheduled{Seq: 1, ActivityType: "ReserveStock", TaskQueue: "orders", Input: json.RawMessage(`{"items":3}`)}},
		{ID: 4, Type: engine.EventActivityAttemptFailed, Time: at(1200 * time.Millisecond), Attrs: &engine.ActivityAttemptFailed{Seq: 1, Attempt: 1,
			Failure: &engine.Failure{Type: "Timeout", Message: "warehouse API did not answer"}, NextAttempt: at(3200 * time.Millisecond)}},
		{ID: 5, Type: engine.EventActivityCompleted, Time: at(3500 * time.Millisecond), Attrs: &engine.ActivityCompleted{Seq: 1, Attempt: 2, Result: json.RawMessage(`{"reserved":true}`)}},
		{ID: 6, Type: engine.EventWorkflowTaskCompleted, Time: at(3550 * time.Millisecond), Attrs: &engine.WorkflowTaskCompleted{Identity: "worker-1"}},
		{ID: 7, Type: engine.EventProgressSet, Time: at(3550 * time.Millisecond), Attrs: &engine.ProgressSet{Seq: 2, Done: 2, Total: 5}},
		{ID: 8, Type: engine.EventSignalReceived, Time: at(70 * time.Minute), Attrs: &engine.SignalReceived{Name: "address-changed", Payload: json.RawMessage(`{"city":"Lyon"}`), Identity: "shop-api"}},
		{ID: 9, Type: engine.EventWorkflowTaskCompleted, Time: at(70*time.Minute + 30*time.Millisecond), Attrs: &engine.WorkflowTaskCompleted{Identity: "worker-2"}},
		{ID: 10, Type: engine.EventStatusSet, Time: at(70*time.Minute + 30*time.Millisecond), Attrs: &engine.StatusSet{Seq: 3, Text: "waiting for manager approval"}},
		{ID: 11, Type: engine.EventApprovalRequested, Time: at(72 * time.Minute), Attrs: &engine.ApprovalRequested{Seq: 4, Name: "ship-order",
			Description: "Ship 3 items to Lyon, total 1,240 EUR", Approvers: []string{"alice", "bob"}, Timeout: 72 * time.Hour}},
		{ID: 12, Type: engine.EventSearchAttributesUpserted, Time: at(72 * time.Minute), Attrs: &engine.SearchAttributesUpserted{Seq: 5,
			Attributes: map[string]engine.SearchAttribute{"CustomerId": {Type: engine.AttrKeyword, Value: "c-778"}, "Total": {Type: engine.AttrFloat, Value: 1240.0}}}},
	}
}

// retryingHistory is order-1002's: a Charge activity failing and retrying.
func retryingHistory() []engine.Event {
	t0 := ago(50 * time.Minute)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	declined := &engine.Failure{Type: "CardDeclined", Message: "card declined by issuer"}
	return []engine.Event{
		{ID: 1, Type: engine.EventWorkflowStarted, Time: at(0), Attrs: &engine.WorkflowStarted{WorkflowID: "order-1002", RunID: "r1002-0b44e810",
			WorkflowType: "OrderWorkflow", TaskQueue: "orders", Input: json.RawMessage(`{"order":"1002"}`)}},
		{ID: 2, Type: engine.EventWorkflowTaskCompleted, Time: at(30 * time.Millisecond), Attrs: &engine.WorkflowTaskCompleted{Identity: "worker-1"}},
		{ID: 3, Type: engine.EventStatusSet, Time: at(30 * time.Millisecond), Attrs: &engine.StatusSet{Seq: 1, Text: "charging card"}},
		{ID: 4, Type: engine.EventActivityScheduled, Time: at(5 * time.Minute), Attrs: &engine.ActivityScheduled{Seq: 5, ActivityType: "Charge", TaskQueue: "orders"}},
		{ID: 5, Type: engine.EventActivityAttemptFailed, Time: at(6 * time.Minute), Attrs: &engine.ActivityAttemptFailed{Seq: 5, Attempt: 1, Failure: declined, NextAttempt: at(7 * time.Minute)}},
		{ID: 6, Type: engine.EventActivityAttemptFailed, Time: at(10 * time.Minute), Attrs: &engine.ActivityAttemptFailed{Seq: 5, Attempt: 2, Failure: declined, NextAttempt: at(14 * time.Minute)}},
		{ID: 7, Type: engine.EventActivityAttemptFailed, Time: at(30 * time.Minute), Attrs: &engine.ActivityAttemptFailed{Seq: 5, Attempt: 3, Failure: declined, NextAttempt: testClock.Add(40 * time.Second)}},
	}
}

// newFixtureBackend is the fake backend with the fixture fleet.
func newFixtureBackend() *fakeBackend {
	f := newFakeBackend(testClock)
	f.docs = fixtureDocs()
	f.histories["r1001-7f3a9c21"] = fixtureHistory()
	f.histories["r1002-0b44e810"] = retryingHistory()
	f.answers[engine.QueryStack] = json.RawMessage(`[{"name":"main","blocked_on":"approval ship-order requested 2h ago"},{"name":"reminder","blocked_on":"timer fires in 58m"}]`)
	f.answers["status"] = json.RawMessage(`{"stage":"awaiting approval","items":3}`)
	f.answers[engine.QueryHandlers] = json.RawMessage(`{"queries":["status","totals"],"signals":["address-changed","laptop-delivered"]}`)
	f.plans["r1001-7f3a9c21"] = []CompensationStep{
		{EventID: 5, Activity: "ReleaseStock", Input: json.RawMessage(`{"items":3}`), State: "pending"},
		{EventID: 3, Activity: "CancelPaymentHold", Input: json.RawMessage(`{"order":"1001"}`), State: "pending"},
	}
	f.views = []SavedView{{Name: "big-orders", Query: "type:OrderWorkflow"}}
	f.preview = ResetPreview{To: 6, Kept: []int64{1, 2, 3, 4, 5, 6}, Dropped: []int64{7, 8, 9, 10, 11, 12}, Reapplied: []int64{8}}
	return f
}
