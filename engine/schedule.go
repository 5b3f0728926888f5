package engine

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Schedules start workflows on a timetable (issue 17). A schedule is a
// durable object in the store (jetstream: one key of the KV fm_schedules,
// updated with compare-and-swap), never a process's memory: every engine
// watches the schedules and fires them, and each fire starts at most one
// run — its workflow id is derived from the schedule and the fire's time
// and started with RejectDuplicate — and at least one, because the
// decision to start is written to the schedule's record (an outbox) before
// the start and cleared only after it.

// OverlapPolicy says what a fire does while a run the schedule started
// earlier is still open (a run that continued as new, or was reset, is
// still open: the chain is what the schedule started).
type OverlapPolicy string

const (
	// OverlapSkip drops the fire (the default).
	OverlapSkip OverlapPolicy = "skip"
	// OverlapBufferOne keeps one fire to start when the open run closes;
	// later fires meanwhile are dropped.
	OverlapBufferOne OverlapPolicy = "buffer_one"
	// OverlapBufferAll keeps every fire and starts them one after the
	// other (at most MaxScheduleBuffer wait).
	OverlapBufferAll OverlapPolicy = "buffer_all"
	// OverlapCancelOther asks the open run to cancel and starts the new
	// one once it closed.
	OverlapCancelOther OverlapPolicy = "cancel_other"
	// OverlapTerminateOther terminates the open run and starts the new one.
	OverlapTerminateOther OverlapPolicy = "terminate_other"
	// OverlapAllowAll starts every fire, whatever is open.
	OverlapAllowAll OverlapPolicy = "allow_all"
)

// OverlapPolicies lists every policy, in the order help shows them.
var OverlapPolicies = []OverlapPolicy{OverlapSkip, OverlapBufferOne, OverlapBufferAll, OverlapCancelOther, OverlapTerminateOther, OverlapAllowAll}

// Limits on a schedule.
const (
	// MaxScheduleBuffer bounds the fires a buffer_all schedule keeps.
	MaxScheduleBuffer = 1000
	// MaxBackfillFires bounds the fires one backfill request decides.
	MaxBackfillFires = 1000
	// MaxScheduleIDBytes bounds schedule ids.
	MaxScheduleIDBytes = 200
	// DefaultCatchupWindow is how late a fire may still start after the
	// engines were down; older missed fires are counted and dropped.
	DefaultCatchupWindow = time.Minute
	// scheduleRecent is how many recent actions a schedule keeps.
	scheduleRecent = 10
	// scheduleRunning bounds the open runs a schedule tracks (allow_all
	// may have many; the other policies have at most a few).
	scheduleRunning = 50
)

// ScheduleSpec says when a schedule fires: at every time any cron
// expression or interval gives, within [StartAt, EndAt], each fire delayed
// by a jitter drawn (deterministically, so every engine agrees) from
// [0, Jitter).
type ScheduleSpec struct {
	// Cron expressions: five fields (minute hour day month weekday), an
	// optional leading seconds field, or a descriptor (@hourly, @every is
	// refused: use Intervals).
	Cron []string `json:"cron,omitempty"`
	// Intervals fire at Unix epoch + Offset + k*Every.
	Intervals []ScheduleInterval `json:"intervals,omitempty"`
	// TimeZone of the cron expressions (an IANA name; default UTC).
	TimeZone string    `json:"time_zone,omitempty"`
	StartAt  time.Time `json:"start_at,omitzero"`
	EndAt    time.Time `json:"end_at,omitzero"`
	Jitter   Duration  `json:"jitter,omitempty"`
}

// ScheduleInterval is a fixed period, aligned to the Unix epoch plus an
// offset (every hour at 15 minutes past: Every 1h, Offset 15m).
type ScheduleInterval struct {
	Every  Duration `json:"every"`
	Offset Duration `json:"offset,omitempty"`
}

// ScheduleAction is what a fire does: start a workflow.
type ScheduleAction struct {
	WorkflowType string          `json:"workflow_type"`
	TaskQueue    string          `json:"task_queue"`
	Input        json.RawMessage `json:"input,omitempty"`
	// WorkflowID is the id template of the started runs: {schedule} is
	// the schedule's id, {time} the fire's time (RFC 3339, UTC), {unix}
	// its Unix seconds. Without {time} or {unix}, "-{time}" is appended:
	// each fire needs its own id, which is what makes it start once.
	// Default "{schedule}-{time}".
	WorkflowID       string                     `json:"workflow_id,omitempty"`
	SearchAttributes map[string]SearchAttribute `json:"search_attributes,omitempty"`
}

// Schedule is a schedule as its owner describes it.
type Schedule struct {
	ID     string         `json:"id"`
	Spec   ScheduleSpec   `json:"spec"`
	Action ScheduleAction `json:"action"`
	// Overlap: default skip.
	Overlap OverlapPolicy `json:"overlap,omitempty"`
	// CatchupWindow: default DefaultCatchupWindow.
	CatchupWindow Duration `json:"catchup_window,omitempty"`
	Paused        bool     `json:"paused,omitempty"`
	// Note says why the schedule was paused or unpaused.
	Note string `json:"note,omitempty"`
	// LimitedActions: only RemainingActions more scheduled fires start a
	// run (triggers and backfills do not count).
	LimitedActions   bool  `json:"limited_actions,omitempty"`
	RemainingActions int64 `json:"remaining_actions,omitempty"`
}

// Duration is a time.Duration written in JSON as Go writes it ("1m30s"),
// and read from that or a number of nanoseconds.
type Duration time.Duration

// MarshalJSON writes "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1m30s" or nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration: want a string such as \"1m30s\": %s", b)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// String is the duration as Go writes it.
func (d Duration) String() string { return time.Duration(d).String() }

var scheduleIDRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$`)

// CheckScheduleID refuses ids the store cannot key (letters, digits, _ and
// -, and dots between them).
func CheckScheduleID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: a schedule id is required", ErrInvalidArgument)
	case len(id) > MaxScheduleIDBytes:
		return fmt.Errorf("%w: schedule id is %d bytes, over the %d-byte limit", ErrInvalidArgument, len(id), MaxScheduleIDBytes)
	case !scheduleIDRe.MatchString(id):
		return fmt.Errorf("%w: schedule id %q: use letters, digits, _ and -, with dots between them", ErrInvalidArgument, id)
	}
	return nil
}

// CheckOverlap refuses an unknown overlap policy ("" is the default).
func CheckOverlap(p OverlapPolicy) error {
	if p == "" {
		return nil
	}
	for _, q := range OverlapPolicies {
		if p == q {
			return nil
		}
	}
	names := make([]string, len(OverlapPolicies))
	for i, q := range OverlapPolicies {
		names[i] = string(q)
	}
	return fmt.Errorf("%w: overlap policy %q: want one of %s", ErrInvalidArgument, p, strings.Join(names, ", "))
}

// validate checks everything a schedule's owner gave, so that a bad
// schedule is refused when written, never when it fires.
func (s *Schedule) validate() error {
	if err := CheckScheduleID(s.ID); err != nil {
		return err
	}
	if _, err := compileSpec(s.ID, s.Spec); err != nil {
		return fmt.Errorf("schedule %s: %w", s.ID, err)
	}
	a := s.Action
	if a.WorkflowType == "" {
		return fmt.Errorf("schedule %s: %w: the action needs a workflow type", s.ID, ErrInvalidArgument)
	}
	if err := CheckTaskQueue(a.TaskQueue); err != nil {
		return fmt.Errorf("schedule %s: %w", s.ID, err)
	}
	if len(a.Input) > 0 && !json.Valid(a.Input) {
		return fmt.Errorf("schedule %s: %w: the action's input is not valid JSON", s.ID, ErrInvalidArgument)
	}
	if err := checkSearchAttributes(a.SearchAttributes); err != nil {
		return fmt.Errorf("schedule %s: %w: %w", s.ID, ErrInvalidArgument, err)
	}
	if id := s.workflowID(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); len(id) > MaxWorkflowIDBytes-40 {
		return fmt.Errorf("schedule %s: %w: the workflow id template gives ids of %d bytes; keep them under %d", s.ID, ErrInvalidArgument, len(id), MaxWorkflowIDBytes-40)
	}
	if err := CheckOverlap(s.Overlap); err != nil {
		return fmt.Errorf("schedule %s: %w", s.ID, err)
	}
	if s.CatchupWindow < 0 || s.Spec.Jitter < 0 {
		return fmt.Errorf("schedule %s: %w: the catch-up window and the jitter cannot be negative", s.ID, ErrInvalidArgument)
	}
	if s.LimitedActions && s.RemainingActions < 0 {
		return fmt.Errorf("schedule %s: %w: remaining actions cannot be negative", s.ID, ErrInvalidArgument)
	}
	return nil
}

func checkSearchAttributes(attrs map[string]SearchAttribute) error {
	for name, a := range attrs {
		if !attrNameRe.MatchString(name) {
			return fmt.Errorf("search attribute name %q: use letters, digits and _ (at most 64), starting with a letter or _", name)
		}
		if err := a.validate(); err != nil {
			return fmt.Errorf("search attribute %q: %w", name, err)
		}
	}
	return nil
}

func (s *Schedule) overlap() OverlapPolicy {
	if s.Overlap == "" {
		return OverlapSkip
	}
	return s.Overlap
}

func (s *Schedule) catchupWindow() time.Duration {
	if s.CatchupWindow == 0 {
		return DefaultCatchupWindow
	}
	return time.Duration(s.CatchupWindow)
}

// FireTimeFormat is how a fire's time appears in workflow ids: RFC 3339 in
// UTC, with milliseconds only when a trigger's time has them.
const FireTimeFormat = "2006-01-02T15:04:05.999Z07:00"

// workflowID is the id of the run the fire at t starts.
func (s *Schedule) workflowID(t time.Time) string {
	tmpl := s.Action.WorkflowID
	if tmpl == "" {
		tmpl = "{schedule}-{time}"
	}
	if !strings.Contains(tmpl, "{time}") && !strings.Contains(tmpl, "{unix}") {
		tmpl += "-{time}"
	}
	return strings.NewReplacer("{schedule}", s.ID, "{time}", t.UTC().Format(FireTimeFormat),
		"{unix}", fmt.Sprint(t.Unix())).Replace(tmpl)
}
