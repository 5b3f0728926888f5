// Package notify is the engine's notification service (issue 18 scope 4):
// rules — a name, a search query, a condition (the run entered the stuck
// view, failed, waits on an approval longer than N, was dead-lettered) —
// that publish a JSON message to a NATS subject and optionally POST it to
// a webhook (a Slack-compatible body), with the run, the reason and the
// foreman command to act, at most once per run per rule.
//
// Rules live in the jetstream.Notify buckets, which only the engine
// writes: operators change them with the notify-* operator actions
// (operator/notify.go), which the engine authorizes and audits, and Service
// implements operator.Rules for it. Service.Run evaluates every rule
// against the engine's own index every Interval; a delivery is claimed in
// KV with compare-and-swap before anything is sent, so that several
// engines, and an engine restarted, send each notification once.
// Webhooks are posted by their own goroutines from a bounded queue, retried
// with backoff; nothing here ever blocks the engine.
package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator/stuck"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Conditions a rule fires on.
const (
	CondStuck        = "stuck"         // the run entered the :stuck view (no event for After, not on a person)
	CondFailed       = "failed"        // the run failed (execution_status failed: failed sagas too)
	CondApproval     = "approval"      // the run waits on an approval longer than After
	CondDeadLettered = "dead_lettered" // an activity ran out of retries under the pause policy (pause's field)
)

// Conditions lists them, for help and errors.
var Conditions = []string{CondStuck, CondFailed, CondApproval, CondDeadLettered}

// Rule is a notification rule as operators write it (the JSON the
// notify-add action carries).
type Rule = jetstream.NotifyRule

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// subjectRE is a literal NATS subject: tokens of printable characters
// without wildcards or spaces.
var subjectRE = regexp.MustCompile(`^[^.*>\s]+(\.[^.*>\s]+)*$`)

// DefaultAfter is a stuck or approval rule's threshold when it names none.
const DefaultAfter = stuck.DefaultAfter

// Validate checks r and fills its defaults (subject fm.notify.<name>, the
// threshold). It refuses subjects in the engine's own namespaces: the
// engine publishes with its own rights, and a rule must not make it write
// into history, task queues or KV.
func Validate(r *Rule) error {
	r.Name = strings.TrimSpace(r.Name)
	if !nameRE.MatchString(r.Name) {
		return fmt.Errorf("%w: rule name %q: want [a-z0-9][a-z0-9_-]{0,63}", engine.ErrInvalidArgument, r.Name)
	}
	switch r.Condition {
	case CondStuck, CondApproval:
		if r.After == "" {
			r.After = DefaultAfter.String()
		}
		d, err := time.ParseDuration(r.After)
		if err != nil || d < time.Second {
			return fmt.Errorf("%w: rule %s: --after %q: want a duration of at least 1s (10m, 2h)", engine.ErrInvalidArgument, r.Name, r.After)
		}
	case CondFailed, CondDeadLettered:
		if r.After != "" {
			return fmt.Errorf("%w: rule %s: --after applies to %s and %s only", engine.ErrInvalidArgument, r.Name, CondStuck, CondApproval)
		}
	default:
		return fmt.Errorf("%w: rule %s: condition %q: want one of %s", engine.ErrInvalidArgument, r.Name, r.Condition, strings.Join(Conditions, ", "))
	}
	if r.Subject == "" {
		r.Subject = jetstream.NotifySubjectPrefix + r.Name
	}
	if !subjectRE.MatchString(r.Subject) || len(r.Subject) > 255 {
		return fmt.Errorf("%w: rule %s: subject %q is not a literal NATS subject", engine.ErrInvalidArgument, r.Name, r.Subject)
	}
	if reserved(r.Subject) {
		return fmt.Errorf("%w: rule %s: subject %q is in the engine's own namespace (fm., $, _INBOX); use %s<anything> or a subject of your own",
			engine.ErrInvalidArgument, r.Name, r.Subject, jetstream.NotifySubjectPrefix)
	}
	if r.Webhook != "" {
		u, err := url.Parse(r.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: rule %s: webhook %q: want an http or https URL", engine.ErrInvalidArgument, r.Name, r.Webhook)
		}
	}
	return nil
}

func reserved(subject string) bool {
	if strings.HasPrefix(subject, jetstream.NotifySubjectPrefix) {
		return false
	}
	return strings.HasPrefix(subject, "fm.") || strings.HasPrefix(subject, "$") || strings.HasPrefix(subject, "_")
}

func after(r Rule) time.Duration {
	d, err := time.ParseDuration(r.After)
	if err != nil || d <= 0 {
		return DefaultAfter
	}
	return d
}

// conditionQuery selects the runs meeting r's condition that met it at or
// after floor (the rule's creation, or a recent evaluation): a rule does
// not page about what was wrong before it existed, and each evaluation
// reads only what is new since the last one, give or take the index lag.
func conditionQuery(r Rule, floor time.Time) string {
	var q, field string
	var shift time.Duration // the condition holds this long after field's time
	switch r.Condition {
	case CondStuck:
		q, field, shift = stuck.Query(after(r)), "last_event_time", after(r)
	case CondFailed:
		q, field = "execution_status:failed -imported:true", "close_time"
	case CondApproval:
		q, field, shift = stuck.PersonQuery(after(r)), "approval_since", after(r)
	case CondDeadLettered:
		// The dead letter (the activity's last failed attempt) is what the
		// run did last; pause's paused_at is the operator's pauses'.
		q, field = "status:running -imported:true dead_lettered:true", "last_event_time"
	}
	if !floor.IsZero() {
		q += " " + field + ":>=" + Quote(floor.Add(-shift).UTC().Format(time.RFC3339))
	}
	if strings.TrimSpace(r.Query) != "" {
		q += " (" + r.Query + ")"
	}
	return q
}

// Quote writes s as a query value.
func Quote(s string) string { return stuck.Quote(s) }

// Message is what a notification carries: Slack's "text", and the same
// facts as fields for programs.
type Message struct {
	Text       string    `json:"text"`
	Rule       string    `json:"rule"`
	Condition  string    `json:"condition"`
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Type       string    `json:"type,omitempty"`
	TaskQueue  string    `json:"task_queue,omitempty"`
	Reason     string    `json:"reason"`
	Command    string    `json:"command"`
	At         time.Time `json:"at"`
	Test       bool      `json:"test,omitempty"`
}

func (m Message) encode() []byte {
	b, _ := json.Marshal(m)
	return b
}

// message describes why d meets r's condition and what to run about it.
func message(r Rule, d *searchapi.Doc, now time.Time) Message {
	m := Message{Rule: r.Name, Condition: r.Condition, WorkflowID: d.WorkflowID, RunID: d.RunID, Type: d.Type, TaskQueue: d.TaskQueue, At: now}
	id := shellWord(d.WorkflowID)
	failure := ""
	if f := d.LastFailure; f != nil {
		failure = f.Type + ": " + oneLine(f.Message)
	}
	activity := ""
	for _, p := range d.PendingActivities {
		if p.LastFailure != nil || activity == "" {
			activity = p.ActivityType
		}
	}
	switch r.Condition {
	case CondFailed:
		m.Reason = "failed"
		if failure != "" {
			m.Reason += ": " + failure
		}
		m.Command = "foreman reset " + id + " --to last-good"
	case CondApproval:
		name, since := "", time.Time{}
		for _, a := range d.PendingApprovals {
			if since.IsZero() || a.RequestedAt.Before(since) {
				name, since = a.Name, a.RequestedAt
			}
		}
		m.Reason = fmt.Sprintf("approval %q waiting for %s", name, ago(now.Sub(since)))
		m.Command = "foreman approve " + id + " " + shellWord(name) + " --comment '…'"
	case CondDeadLettered:
		m.Reason = "dead-lettered: activity " + activity + " ran out of retries"
		if failure != "" {
			m.Reason += " (" + failure + ")"
		}
		m.Command = "foreman activity retry " + id + " --activity " + shellWord(activity)
	default:
		m.Reason = fmt.Sprintf("stuck: no progress for %s", ago(now.Sub(d.LastEventTime)))
		m.Command = "foreman show " + id
		switch d.WaitingOn {
		case "task_failure":
			m.Reason += ", workflow task failing"
			m.Command = "foreman reset " + id + " --to last-good"
		case "retry":
			m.Reason += ", activity " + activity + " retrying"
			m.Command = "foreman activity retry " + id + " --activity " + shellWord(activity)
		case "":
		default:
			m.Reason += ", waiting on " + d.WaitingOn
		}
		if failure != "" {
			m.Reason += " (" + failure + ")"
		}
	}
	m.Text = fmt.Sprintf("[foreman] %s: %s %s — %s", r.Name, d.WorkflowID, m.Reason, m.Command)
	return m
}

// ago writes d as people read it: 2h5m, 12m, 40s (truncated).
func ago(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour < time.Minute:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%ds", int(max(d, 0)/time.Second))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// shellWord quotes s for sh when it needs it.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == ':' || r == '/' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
