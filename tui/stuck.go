package tui

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// defaultStuckAfter is how long a running run may go without a history
// event before :stuck lists it.
const defaultStuckAfter = 10 * time.Minute

// stuckPreset selects running runs whose history has not grown for after,
// leaving out those waiting on a person (a pending approval): a long wait
// for a manager is the process working as designed, and the approvals
// inbox lists them. The time is relative (now-10m), so the index evaluates
// it at each search and runs become stuck as time passes, even in a saved
// view.
func stuckPreset(after time.Duration) preset {
	p := quietPreset(after)
	p.qs += " -waiting_on:approval"
	p.temporal += " AND waiting_on != 'approval'"
	return p
}

// quietPreset is every running run without a history event for after.
func quietPreset(after time.Duration) preset {
	d := compactDuration(after.Truncate(time.Second))
	return preset{
		qs:       "status:running last_event_time:<now-" + d,
		temporal: "ExecutionStatus = 'Running' AND last_event_time < 'now-" + d + "'",
	}
}

// peopleQuery counts what :stuck leaves out: quiet runs waiting on a
// person.
func (l *runList) peopleQuery(m *Model) string {
	return quietPreset(l.stuckFor(m)).qs + " waiting_on:approval"
}

func (l *runList) stuckFor(m *Model) time.Duration {
	if l.stuckAfter > 0 {
		return l.stuckAfter
	}
	return m.opts.StuckAfter
}

// fetchPeople counts the quiet runs waiting on a person, for the :stuck
// header.
func (l *runList) fetchPeople(m *Model) tea.Cmd {
	q := l.peopleQuery(m)
	return fetch(m, func(c context.Context) (searchapi.CountResult, error) {
		return m.b.Count(c, searchapi.CountRequest{Query: q})
	}, func(res searchapi.CountResult, err error) tea.Msg {
		return countMsg{addr: addr{l.id}, query: q, res: res, err: err}
	})
}

// peopleNote is the :stuck header's pointer to what it leaves out.
func (l *runList) peopleNote(m *Model) string {
	if l.kind != listStuck || l.people == 0 {
		return ""
	}
	return m.st.Dim.Render(" + " + thousands(l.people) + " waiting on a person (:approvals)")
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
