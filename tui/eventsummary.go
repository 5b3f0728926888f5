package tui

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// eventContext remembers, while walking a history in order, what later
// events refer to by seq: an activity's name and schedule time (for "took
// 1.2s"), a timer's start, an approval's request time.
type eventContext struct {
	activities map[int64]activityRef
	timers     map[int64]time.Time
	approvals  map[int64]time.Time
}

type activityRef struct {
	name string
	at   time.Time
}

func newEventContext() *eventContext {
	return &eventContext{activities: map[int64]activityRef{}, timers: map[int64]time.Time{}, approvals: map[int64]time.Time{}}
}

// summary is one line saying what an event means, and whether it records
// a failure.
func (c *eventContext) summary(e engine.Event) (string, bool) {
	switch a := e.Attrs.(type) {
	case *engine.WorkflowStarted:
		s := fmt.Sprintf("%s on queue %s", a.WorkflowType, a.TaskQueue)
		if a.Identity != "" {
			s += " by " + a.Identity
		}
		if a.ResetFrom != "" {
			s += ", reset from " + shortID(a.ResetFrom)
		}
		if a.ContinuedFrom != "" {
			s += ", continues " + shortID(a.ContinuedFrom)
		}
		return withPayload(s, a.Input), false
	case *engine.WorkflowTaskCompleted:
		return by(a.Identity), false
	case *engine.WorkflowTaskFailed:
		return fmt.Sprintf("[%s] %s (attempt %d)", a.Code, oneLine(a.Message), a.Attempt), true
	case *engine.ActivityScheduled:
		c.activities[a.Seq] = activityRef{name: a.ActivityType, at: e.Time}
		return withPayload(fmt.Sprintf("%s (seq %d) on %s", a.ActivityType, a.Seq, a.TaskQueue), a.Input), false
	case *engine.ActivityAttemptFailed:
		s := fmt.Sprintf("%s attempt %d: %s", c.activities[a.Seq].name, a.Attempt, failureText(a.Failure))
		if !a.NextAttempt.IsZero() {
			s += fmt.Sprintf("; retry in %s", preciseDuration(a.NextAttempt.Sub(e.Time)))
		}
		return s, true
	case *engine.ActivityCompleted:
		ref := c.activities[a.Seq]
		return withPayload(fmt.Sprintf("%s took %s (attempt %d)", ref.name, preciseDuration(e.Time.Sub(ref.at)), a.Attempt), a.Result), false
	case *engine.ActivityFailed:
		ref := c.activities[a.Seq]
		return fmt.Sprintf("%s failed after %d attempt(s), %s: %s", ref.name, a.Attempt, preciseDuration(e.Time.Sub(ref.at)), failureText(a.Failure)), true
	case *engine.ActivityCancelRequested:
		return c.activities[a.Seq].name, false
	case *engine.TimerStarted:
		c.timers[a.Seq] = e.Time
		return fmt.Sprintf("%s, fires %s", preciseDuration(a.Duration), a.FireAt.UTC().Format("15:04:05")), false
	case *engine.TimerFired:
		return "after " + preciseDuration(e.Time.Sub(c.timers[a.Seq])), false
	case *engine.TimerCanceled:
		return fmt.Sprintf("timer seq %d", a.Seq), false
	case *engine.SignalReceived:
		return withPayload(a.Name+by(a.Identity), a.Payload), false
	case *engine.MarkerRecorded:
		s := a.Kind
		if a.ID != "" {
			s += " " + a.ID
		}
		return withPayload(s, a.Value), false
	case *engine.ApprovalRequested:
		c.approvals[a.Seq] = e.Time
		s := a.Name
		if a.Description != "" {
			s += ": " + oneLine(a.Description)
		}
		if len(a.Approvers) > 0 {
			s += " (approvers " + strings.Join(a.Approvers, ", ") + ")"
		}
		if a.Timeout > 0 {
			s += " timeout " + compactDuration(a.Timeout)
		}
		return s, false
	case *engine.ApprovalDecided:
		verb := "approved"
		if !a.Approved {
			verb = "rejected"
		}
		s := fmt.Sprintf("%s %s by %s after %s", a.Name, verb, a.By, compactDuration(e.Time.Sub(c.approvals[a.Seq])))
		if a.Comment != "" {
			s += ": " + oneLine(a.Comment)
		}
		return s, false
	case *engine.ApprovalTimedOut:
		return a.Name + " timed out after " + compactDuration(e.Time.Sub(c.approvals[a.Seq])), true
	case *engine.StatusSet:
		return fmt.Sprintf("%q", a.Text), false
	case *engine.ProgressSet:
		return fmt.Sprintf("%d of %d", a.Done, a.Total), false
	case *engine.SearchAttributesUpserted:
		keys := make([]string, 0, len(a.Attributes))
		for k := range a.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			v, _ := json.Marshal(a.Attributes[k].Value)
			parts = append(parts, k+"="+string(v))
		}
		return strings.Join(parts, " "), false
	case *engine.WorkflowCancelRequested:
		return reason(a.Reason) + by(a.Identity), false
	case *engine.WorkflowCompleted:
		return withPayload("result", a.Result), false
	case *engine.WorkflowFailed:
		return failureText(a.Failure), true
	case *engine.WorkflowCanceled:
		return "", false
	case *engine.WorkflowTerminated:
		return reason(a.Reason) + by(a.Identity), true
	case *engine.WorkflowContinuedAsNew:
		return "new run " + a.NewRunID, false
	}
	return "", false
}

func by(identity string) string {
	if identity == "" {
		return ""
	}
	return " by " + identity
}

func reason(r string) string {
	if r == "" {
		return "no reason given"
	}
	return fmt.Sprintf("%q", oneLine(r))
}

func failureText(f *engine.Failure) string {
	if f == nil {
		return "unknown failure"
	}
	return oneLine(f.Error())
}

// withPayload appends a compact rendering of a JSON payload.
func withPayload(s string, raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return s
	}
	return s + " " + compactJSON(raw)
}
