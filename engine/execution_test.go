package engine_test

import (
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// One status word per state, whoever asks (show, list, search, start
// --wait): a run whose compensation plan ran is compensated however it
// closed, and CloseStatus keeps how it closed.
func TestStatusOfCompensatedRuns(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	started := engine.Event{ID: 1, Type: engine.EventWorkflowStarted, Time: at, Attrs: &engine.WorkflowStarted{WorkflowID: "o", RunID: "r"}}
	marker := engine.Event{ID: 2, Type: engine.EventMarkerRecorded, Time: at, Attrs: &engine.MarkerRecorded{Kind: engine.MarkerCompensated}}
	byOperator := engine.Event{ID: 9, Type: engine.EventRunCompensated, Time: at, Attrs: &engine.RunCompensated{Via: "comp-1", Steps: 2}}
	completed := engine.Event{ID: 3, Type: engine.EventWorkflowCompleted, Time: at, Attrs: &engine.WorkflowCompleted{}}
	failed := engine.Event{ID: 3, Type: engine.EventWorkflowFailed, Time: at, Attrs: &engine.WorkflowFailed{Failure: &engine.Failure{Message: "no carrier"}}}
	terminated := engine.Event{ID: 3, Type: engine.EventWorkflowTerminated, Time: at, Attrs: &engine.WorkflowTerminated{Reason: "stuck"}}
	for _, tc := range []struct {
		name          string
		events        []engine.Event
		status, close engine.Status
	}{
		{"running", []engine.Event{started}, engine.StatusRunning, ""},
		{"completed", []engine.Event{started, completed}, engine.StatusCompleted, engine.StatusCompleted},
		{"failed", []engine.Event{started, failed}, engine.StatusFailed, engine.StatusFailed},
		{"saga failed after compensating", []engine.Event{started, marker, failed}, engine.StatusCompensated, engine.StatusFailed},
		{"saga completed after compensating", []engine.Event{started, marker, completed}, engine.StatusCompensated, engine.StatusCompleted},
		{"compensated by an operator after completing", []engine.Event{started, completed, byOperator}, engine.StatusCompensated, engine.StatusCompleted},
		{"compensated by an operator after termination", []engine.Event{started, terminated, byOperator}, engine.StatusCompensated, engine.StatusTerminated},
		{"compensating, still running", []engine.Event{started, marker}, engine.StatusRunning, ""},
	} {
		x := engine.Summarize(tc.events)
		if x.Status != tc.status || x.CloseStatus != tc.close {
			t.Errorf("%s: status %q close_status %q, want %q %q", tc.name, x.Status, x.CloseStatus, tc.status, tc.close)
		}
	}
}
