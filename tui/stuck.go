package tui

import (
	"fmt"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// defaultStuckAfter is how long a running run may go without a history
// event before :stuck lists it.
const defaultStuckAfter = 10 * time.Minute

// stuckPreset selects running runs whose history has not grown for after.
// The time is relative (now-10m), so the index evaluates it at each search
// and runs become stuck as time passes, even in a saved view.
func stuckPreset(after time.Duration) preset {
	d := compactDuration(after.Truncate(time.Second))
	return preset{
		qs:       "status:running last_event_time:<now-" + d,
		temporal: "ExecutionStatus = 'Running' AND last_event_time < 'now-" + d + "'",
	}
}

// stuckReason says in one line why a run is not moving, from its index
// document alone.
func stuckReason(d *searchapi.Doc, now time.Time) string {
	switch d.WaitingOn {
	case "approval":
		if a := oldestApproval(d.PendingApprovals); a != nil {
			s := fmt.Sprintf("approval %q requested %s ago", a.Name, compactDuration(now.Sub(a.RequestedAt)))
			if a.Description != "" {
				s += ": " + oneLine(a.Description)
			}
			return s
		}
		return "waiting for an approval"
	case "signal":
		if d.StatusLine != "" {
			return "waiting for a signal: " + oneLine(d.StatusLine)
		}
		return "waiting for a signal"
	case "retry":
		for _, p := range d.PendingActivities {
			if p.LastFailure == nil {
				continue
			}
			s := fmt.Sprintf("activity %s failed attempt %d: %s", p.ActivityType, p.Attempt-1, oneLine(p.LastFailure.Message))
			if !p.NextAttempt.IsZero() {
				s += fmt.Sprintf("; next retry in %s", compactDuration(p.NextAttempt.Sub(now)))
			}
			return s
		}
		return "an activity is retrying"
	case "activity":
		for _, p := range d.PendingActivities {
			return fmt.Sprintf("activity %s running for %s (attempt %d)", p.ActivityType, compactDuration(now.Sub(p.ScheduledAt)), p.Attempt)
		}
		return "waiting on an activity"
	case "timer":
		return "sleeping on a durable timer"
	case "task_failure":
		if d.LastFailure != nil {
			return "workflow task failing: " + oneLine(d.LastFailure.Message)
		}
		return "workflow task failing: deploy a fixed worker"
	}
	if d.StatusLine != "" {
		return "no progress: " + oneLine(d.StatusLine)
	}
	return "no progress"
}

func oldestApproval(as []engine.PendingApproval) *engine.PendingApproval {
	var o *engine.PendingApproval
	for i := range as {
		if o == nil || as[i].RequestedAt.Before(o.RequestedAt) {
			o = &as[i]
		}
	}
	return o
}
