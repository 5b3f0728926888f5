package visibility

import (
	"encoding/json"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/fields"
)

// Bounds that keep documents lean whatever a history holds: text beyond
// them is not searchable, payloads beyond them are not returned in lists
// (the history has them whole).
const (
	maxTextBytes    = 8 << 10  // each text field but history
	maxHistoryBytes = 16 << 10 // the history text field
	maxKeywordBytes = 1 << 10  // each keyword value (workflow ids are at most 1000 bytes)
	maxStoredJSON   = 4 << 10  // Doc.Input and Doc.Result
	maxListValues   = 64       // values of a multi-valued keyword field
)

// deriveFacts folds a run's events (engine.Summarize, plus what the index
// adds: every activity type, error types, actors, text).
func deriveFacts(events []engine.Event) *fields.Facts {
	f := &fields.Facts{X: engine.Summarize(events)}
	if len(events) == 0 {
		return f
	}
	f.LastEvent = events[len(events)-1]
	if n := len(events); n > 1 && f.LastEvent.Type == engine.EventRunImported {
		// an imported copy waits on, and last moved, as the original did
		f.LastEvent = events[n-2]
	}
	acts, errs, actors, sigs := newSet(), newSet(), newSet(), newSet()
	failure := newTextSet(maxTextBytes)
	signals := newTextSet(maxTextBytes)
	history := newTextSet(maxHistoryBytes)
	addFailure := func(fl *engine.Failure) {
		if fl == nil {
			return
		}
		errs.add(fl.Type)
		failure.add(fl.Type)
		failure.add(fl.Message)
		history.add(fl.Message)
	}
	for _, e := range events {
		history.add(string(e.Type))
		switch a := e.Attrs.(type) {
		case *engine.WorkflowStarted:
			actors.add(a.Identity)
			f.ContinuedFrom = a.ContinuedFrom
		case *engine.WorkflowTaskFailed:
			errs.add(a.Code)
			failure.add(a.Code)
			failure.add(a.Message)
			history.add(a.Message)
		case *engine.ActivityScheduled:
			acts.add(a.ActivityType)
			history.add(a.ActivityType)
		case *engine.ActivityAttemptFailed:
			addFailure(a.Failure)
		case *engine.ActivityFailed:
			addFailure(a.Failure)
		case *engine.WorkflowFailed:
			addFailure(a.Failure)
		case *engine.SignalReceived:
			sigs.add(a.Name)
			actors.add(a.Identity)
			signals.add(a.Name)
			signals.add(payloadText(a.Payload, maxTextBytes))
			history.add(a.Name)
		case *engine.ApprovalRequested:
			history.add(a.Name)
			history.add(a.Description)
		case *engine.ApprovalDecided:
			actors.add(a.By)
			history.add(a.Name)
			history.add(a.Comment)
		case *engine.WorkflowCancelRequested:
			actors.add(a.Identity)
			history.add(a.Reason)
		case *engine.WorkflowTerminated:
			actors.add(a.Identity)
			history.add(a.Reason)
			failure.add(a.Reason)
		case *engine.WorkflowReset:
			actors.add(a.Identity)
			history.add(a.Reason)
		case *engine.ResetApplied:
			actors.add(a.Identity)
			history.add(a.Reason)
		case *engine.RunCompensated:
			actors.add(a.Identity)
		case *engine.RunImported:
			actors.add(a.Identity)
		}
	}
	x := f.X
	f.Activities, f.ErrorTypes, f.Actors, f.SignalNames = acts.list, errs.list, actors.list, sigs.list
	f.UpdateNames, f.PendingUpdates = updateFacts(x, actors)
	f.Actors = actors.list
	f.FailureText, f.SignalsText, f.HistoryText = failure.String(), signals.String(), history.String()
	f.InputText, f.ResultText = payloadText(x.Input, maxTextBytes), payloadText(x.Result, maxTextBytes)
	f.StatusLineText = clip(x.StatusLine, maxTextBytes)

	pending := newSet()
	for _, p := range x.Activities {
		pending.add(p.ActivityType)
		f.Attempts = max(f.Attempts, p.Attempt)
	}
	f.Pending = pending.list
	approvals := newSet()
	for _, p := range x.Approvals {
		approvals.add(p.Name)
		if f.ApprovalSince.IsZero() || p.RequestedAt.Before(f.ApprovalSince) {
			f.ApprovalSince = p.RequestedAt
		}
	}
	f.Approvals = approvals.list
	f.WaitingOn = waitingOn(x, f.LastEvent)
	f.LastFailure = lastFailure(x)
	return f
}

// waitingOn says what a running run waits on, the most pressing first: a
// failing workflow task (stuck until the code is fixed), an operator, an
// activity being retried, an activity, a timer; or a signal when nothing is
// pending and the workflow code has run ("" while its workflow task is due).
func waitingOn(x *engine.Execution, last engine.Event) string {
	if x.Status != engine.StatusRunning {
		return ""
	}
	switch {
	case x.TaskFailure != nil:
		return "task_failure"
	case len(x.Approvals) > 0:
		return "approval"
	}
	for _, a := range x.Activities {
		if !a.NextAttempt.IsZero() {
			return "retry"
		}
	}
	switch {
	case len(x.Activities) > 0:
		return "activity"
	case len(x.Timers) > 0:
		return "timer"
	case last.Type == engine.EventWorkflowTaskCompleted:
		return "signal"
	}
	return ""
}

// lastFailure is the failure an operator looks at first: the run's own,
// else the failing workflow task, else the latest failed attempt of a
// pending activity.
func lastFailure(x *engine.Execution) *engine.Failure {
	if x.Failure != nil {
		return x.Failure
	}
	if tf := x.TaskFailure; tf != nil {
		return &engine.Failure{Type: tf.Code, Message: tf.Message}
	}
	var out *engine.Failure
	var at time.Time
	for _, a := range x.Activities {
		if a.LastFailure != nil && (out == nil || a.NextAttempt.After(at)) {
			out, at = a.LastFailure, a.NextAttempt
		}
	}
	return out
}

// summary is the stored Doc: what a list row and a summary show. Its
// fields named like fields of the table (fields.Builtin) carry the same
// values (TestDocMatchesFieldTable).
func summary(f *fields.Facts) Doc {
	x := f.X
	return Doc{
		WorkflowID:        x.WorkflowID,
		RunID:             x.RunID,
		Type:              x.Type,
		TaskQueue:         x.TaskQueue,
		Status:            x.Status,
		ExecutionStatus:   fields.ExecutionStatus(x),
		StartTime:         x.StartTime,
		CloseTime:         x.CloseTime,
		DurationMS:        f.DurationMS(),
		HistoryLength:     x.HistoryLength,
		StatusLine:        x.StatusLine,
		Progress:          x.Progress,
		WaitingOn:         f.WaitingOn,
		PendingApprovals:  x.Approvals,
		PendingActivities: x.Activities,
		Attempts:          f.Attempts,
		LastFailure:       f.LastFailure,
		LastEventTime:     f.LastEvent.Time,
		SearchAttributes:  x.SearchAttributes,
		Input:             storedJSON(x.Input),
		Result:            storedJSON(x.Result),
		Imported:          x.Imported != nil,
	}
}

// storedJSON keeps a payload in the stored summary when it is small and
// valid JSON; the index still searches its text.
func storedJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || len(raw) > maxStoredJSON || !json.Valid(raw) {
		return nil
	}
	return raw
}

// set is an insertion-ordered set of non-empty strings, bounded.
type set struct {
	seen map[string]struct{}
	list []string
}

func newSet() *set { return &set{} }

func (s *set) add(v string) {
	if v == "" || len(s.list) >= maxListValues {
		return
	}
	v = clip(v, maxKeywordBytes)
	if _, ok := s.seen[v]; ok {
		return
	}
	if s.seen == nil {
		s.seen = map[string]struct{}{}
	}
	s.seen[v] = struct{}{}
	s.list = append(s.list, v)
}

// textSet joins distinct strings into one text value of at most max bytes:
// repeated content (the same failure on every attempt, the same event
// types) is indexed once.
type textSet struct {
	seen map[string]struct{}
	buf  []byte
	max  int
}

func newTextSet(max int) *textSet { return &textSet{max: max} }

func (t *textSet) add(v string) {
	if v == "" || len(t.buf) >= t.max {
		return
	}
	if _, ok := t.seen[v]; ok {
		return
	}
	if t.seen == nil {
		t.seen = map[string]struct{}{}
	}
	t.seen[v] = struct{}{}
	if len(t.buf) > 0 {
		t.buf = append(t.buf, '\n')
	}
	t.buf = append(t.buf, clip(v, t.max-len(t.buf))...)
}

func (t *textSet) String() string { return string(t.buf) }

// clip cuts s to at most n bytes at a UTF-8 character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
