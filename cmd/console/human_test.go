package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// history's table says durations in human units, nested ones included;
// everything else reads as before.
func TestHistoryDetailsSayDurationsInHumanUnits(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		attrs any
		want  string
	}{
		{&engine.TimerStarted{Seq: 2, Duration: time.Second, FireAt: at},
			`duration=1s fire_at=2026-12-03T09:00:00Z seq=2`},
		{&engine.ApprovalRequested{Seq: 3, Name: "manager", Approvers: []string{"bob"}, Timeout: 9 * time.Minute},
			`approvers=["bob"] name=manager seq=3 timeout=9m0s`},
		{&engine.ActivityScheduled{Seq: 1, ActivityType: "Charge", TaskQueue: "orders", Input: json.RawMessage(`{"a": 1}`),
			Options: engine.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: &engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2}}},
			`activity_type=Charge input={"a":1} options={"retry_policy":{"backoff_coefficient":2,"initial_interval":"1s"},"start_to_close_timeout":"30s"} seq=1 task_queue=orders`},
		{&engine.WorkflowTerminated{Reason: "dup run", Identity: "alice"}, `identity=alice reason="dup run"`},
	}
	for _, c := range cases {
		if got := eventDetail(engine.Event{Attrs: c.attrs}); got != c.want {
			t.Errorf("%T:\n got %s\nwant %s", c.attrs, got, c.want)
		}
	}
	for _, c := range cases {
		if d := eventDetail(engine.Event{Attrs: c.attrs}); strings.Contains(d, "000000000") {
			t.Errorf("nanoseconds in %s", d)
		}
	}
}
