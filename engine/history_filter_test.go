package engine_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/foremanhq/foreman/engine"
)

func filterSample() []engine.Event {
	f := &engine.Failure{Type: "CardDeclined", Message: "declined"}
	return []engine.Event{
		{ID: 1, Type: engine.EventWorkflowStarted, Attrs: &engine.WorkflowStarted{WorkflowID: "o", RunID: "r", WorkflowType: "Order", TaskQueue: "q"}},
		{ID: 2, Type: engine.EventWorkflowTaskFailed, Attrs: &engine.WorkflowTaskFailed{Code: "FM1001", Attempt: 1}},
		{ID: 3, Type: engine.EventWorkflowTaskFailed, Attrs: &engine.WorkflowTaskFailed{Code: "FM1001", Attempt: 2}},
		{ID: 4, Type: engine.EventActivityScheduled, Attrs: &engine.ActivityScheduled{Seq: 1, ActivityType: "Charge"}},
		{ID: 5, Type: engine.EventWorkflowTaskCompleted, Attrs: &engine.WorkflowTaskCompleted{}},
		{ID: 6, Type: engine.EventActivityAttemptFailed, Attrs: &engine.ActivityAttemptFailed{Seq: 1, Attempt: 1, Failure: f}},
		{ID: 7, Type: engine.EventActivityFailed, Attrs: &engine.ActivityFailed{Seq: 1, Attempt: 2, Failure: f}},
		{ID: 8, Type: engine.EventSignalReceived, Attrs: &engine.SignalReceived{Name: "go"}},
		{ID: 9, Type: engine.EventWorkflowTaskCompleted, Attrs: &engine.WorkflowTaskCompleted{}},
		{ID: 10, Type: engine.EventWorkflowFailed, Attrs: &engine.WorkflowFailed{Seq: 2, Failure: f}},
	}
}

// The filters keep what they say, by the registry's declarations.
func TestHistoryFilter(t *testing.T) {
	events := filterSample()
	activity, err := engine.ParseEventTypes("activity, SIGNAL")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		f    engine.HistoryFilter
		want []int
	}{
		"all":              {engine.HistoryFilter{}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		"types":            {engine.HistoryFilter{Types: activity}, []int{3, 5, 6, 7}},
		"failures":         {engine.HistoryFilter{Failures: true}, []int{1, 2, 5, 6, 9}},
		"compact":          {engine.HistoryFilter{Compact: true}, []int{0, 2, 3, 5, 6, 7, 9}},
		"compact failures": {engine.HistoryFilter{Compact: true, Failures: true}, []int{2, 5, 6, 9}},
	} {
		if got := c.f.Select(events); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: kept %v, want %v", name, got, c.want)
		}
	}
	if _, err := engine.ParseEventTypes("activty"); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("a misspelt type: %v", err)
	}
	if keys := engine.HistoryKeys(events); keys[3] != "ActivityScheduled Charge" || keys[6] != "ActivityFailed Charge" || keys[4] != "WorkflowTaskCompleted" {
		t.Fatalf("keys %q", keys)
	}
}
