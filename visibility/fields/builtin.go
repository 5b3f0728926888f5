package fields

import (
	"math"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Spec is one built-in field. Whether it can be sorted on or grouped by
// follows from its kind (Kind.Sortable, Kind.Facetable), as for custom
// attributes, and so does its analyzer (visibility/mapping.go). Exactly
// one extractor is set, the one of its kind; extractors are plain functions so building a document calls them
// without reflection or allocation (indexing runs at about 5,000 runs/s).
type Spec struct {
	// Name is the index path and the name queries, sorts and API results
	// use (lower snake case).
	Name string
	Kind Kind
	// Aliases are the Temporal names the field also answers to in queries.
	Aliases []string
	// Default: a bare term (a value without a field name) searches it. The
	// text fields are searched as full text; keyword fields exactly.
	Default bool
	// Values, for a keyword field with a closed set of values, lists them:
	// queries match them ignoring case and underscores, and an unknown
	// value is an error with suggestions rather than zero hits.
	Values []string
	// Window: every document has the field, so a search sorted on it can
	// narrow by ranges of its values without losing a run (search.go).
	Window bool
	// ExactOnly: a number indexed by its exact value alone, without range
	// buckets (visibility/rangeindex.go): it takes few distinct values, so
	// a range reads them from the dictionary as quickly.
	ExactOnly bool
	// InDoc: the stored summary (searchapi.Doc) carries the value under
	// the same name, so a list shows what a query matched. Doc's input,
	// result and pending_activities are not the indexed values (the
	// payloads as JSON, the pending activities whole), hence not InDoc.
	InDoc bool

	Keyword  func(*Facts) string
	Keywords func(*Facts) []string // a multi-valued keyword field
	Number   func(*Facts) (float64, bool)
	Time     func(*Facts) time.Time // the zero time: no value
	Text     func(*Facts) string
	Bool     func(*Facts) (bool, bool) // false second: no value
}

// Builtin is every built-in field, in the order documents list them (the
// order is part of each document's fingerprint: changing it changes the
// index bytes, so it needs a new mapping version in visibility).
var Builtin = []Spec{
	{Name: "workflow_id", InDoc: true, Kind: KindKeyword, Aliases: []string{"WorkflowId"}, Default: true,
		Keyword: func(f *Facts) string { return f.X.WorkflowID }},
	{Name: "run_id", InDoc: true, Kind: KindKeyword, Aliases: []string{"RunId"}, Default: true,
		Keyword: func(f *Facts) string { return f.X.RunID }},
	{Name: "type", InDoc: true, Kind: KindKeyword, Aliases: []string{"WorkflowType"}, Default: true,
		Keyword: func(f *Facts) string { return f.X.Type }},
	{Name: "task_queue", InDoc: true, Kind: KindKeyword, Aliases: []string{"TaskQueue"},
		Keyword: func(f *Facts) string { return f.X.TaskQueue }},
	// status is Foreman's one word for a run's state (compensated once its
	// compensation plan ran, however it closed); execution_status is the
	// state Temporal would report: running, then how the run closed, so
	// Temporal's ExecutionStatus = 'Failed' finds a failed saga that was
	// compensated, as its users expect.
	{Name: "status", InDoc: true, Kind: KindKeyword,
		Values: []string{"running", "completed", "failed", "canceled", "terminated",
			"timed_out", "continued_as_new", "reset", "compensated"},
		Keyword: func(f *Facts) string { return string(f.X.Status) }},
	{Name: "execution_status", InDoc: true, Kind: KindKeyword, Aliases: []string{"ExecutionStatus"},
		Values: []string{"running", "completed", "failed", "canceled", "terminated",
			"timed_out", "continued_as_new", "reset"},
		Keyword: func(f *Facts) string { return string(ExecutionStatus(f.X)) }},
	{Name: "waiting_on", InDoc: true, Kind: KindKeyword,
		Values:  []string{"approval", "signal", "timer", "activity", "retry", "task_failure"},
		Keyword: func(f *Facts) string { return f.WaitingOn }},
	{Name: "approvals", Kind: KindKeyword, Keywords: func(f *Facts) []string { return f.Approvals }},
	{Name: "activities", Kind: KindKeyword, Keywords: func(f *Facts) []string { return f.Activities }},
	{Name: "pending_activities", Kind: KindKeyword, Keywords: func(f *Facts) []string { return f.Pending }},
	{Name: "error_types", Kind: KindKeyword, Keywords: func(f *Facts) []string { return f.ErrorTypes }},
	{Name: "signal_names", Kind: KindKeyword, Keywords: func(f *Facts) []string { return f.SignalNames }},
	{Name: "actors", Kind: KindKeyword, Keywords: func(f *Facts) []string { return f.Actors }},
	{Name: "reset_from", Kind: KindKeyword, Keyword: func(f *Facts) string { return f.X.ResetFrom }},
	{Name: "continued_from", Kind: KindKeyword, Keyword: func(f *Facts) string { return f.ContinuedFrom }},

	{Name: "duration_ms", InDoc: true, Kind: KindNumber, Aliases: []string{"ExecutionDuration"}, Window: true,
		Number: func(f *Facts) (float64, bool) { return float64(f.DurationMS()), true }},
	// History lengths are at most the engine's history limit (50,000 by
	// default).
	{Name: "history_length", InDoc: true, Kind: KindNumber, Aliases: []string{"HistoryLength"}, Window: true, ExactOnly: true,
		Number: func(f *Facts) (float64, bool) { return float64(f.X.HistoryLength), true }},
	{Name: "attempts", InDoc: true, Kind: KindNumber, ExactOnly: true,
		Number: func(f *Facts) (float64, bool) { return float64(f.Attempts), f.Attempts > 0 }},
	// Progress counts are steps or items of a run, which take few distinct
	// values; ranges over them are rare, and their buckets were a twelfth
	// of the postings of a run's document.
	{Name: "progress_done", Kind: KindNumber, ExactOnly: true,
		Number: func(f *Facts) (float64, bool) {
			if p := f.X.Progress; p != nil {
				return float64(p.Done), true
			}
			return 0, false
		}},
	{Name: "progress_total", Kind: KindNumber, ExactOnly: true,
		Number: func(f *Facts) (float64, bool) {
			if p := f.X.Progress; p != nil {
				return float64(p.Total), true
			}
			return 0, false
		}},
	{Name: "progress_pct", Kind: KindNumber, ExactOnly: true,
		Number: func(f *Facts) (float64, bool) {
			if p := f.X.Progress; p != nil && p.Total > 0 {
				return math.Round(100 * float64(min(max(p.Done, 0), p.Total)) / float64(p.Total)), true
			}
			return 0, false
		}},

	{Name: "start_time", InDoc: true, Kind: KindTime, Aliases: []string{"StartTime", "ExecutionTime"}, Window: true,
		Time: func(f *Facts) time.Time { return f.X.StartTime }},
	{Name: "close_time", InDoc: true, Kind: KindTime, Aliases: []string{"CloseTime"},
		Time: func(f *Facts) time.Time { return f.X.CloseTime }},
	{Name: "last_event_time", InDoc: true, Kind: KindTime, Window: true,
		Time: func(f *Facts) time.Time { return f.LastEvent.Time }},
	{Name: "approval_since", Kind: KindTime, Time: func(f *Facts) time.Time { return f.ApprovalSince }},

	{Name: "input", Kind: KindText, Default: true, Text: func(f *Facts) string { return f.InputText }},
	{Name: "result", Kind: KindText, Default: true, Text: func(f *Facts) string { return f.ResultText }},
	{Name: "failure", Kind: KindText, Default: true, Text: func(f *Facts) string { return f.FailureText }},
	{Name: "signals", Kind: KindText, Default: true, Text: func(f *Facts) string { return f.SignalsText }},
	{Name: "status_line", InDoc: true, Kind: KindText, Default: true, Text: func(f *Facts) string { return f.StatusLineText }},
	{Name: "history", Kind: KindText, Default: true, Text: func(f *Facts) string { return f.HistoryText }},
	// imported: a read-only copy made by `foreman import`; other runs
	// have no value, so their documents are as before.
	{Name: "imported", InDoc: true, Kind: KindBool, Bool: func(f *Facts) (bool, bool) { return true, f.X.Imported != nil }},
	// parent_id and root_id: set on child runs only (ExecuteChildWorkflow),
	// so parent_id:X finds exactly X's children, root_id:X every run below
	// X, and -parent_id:* hides children from a list.
	{Name: "parent_id", Kind: KindKeyword, Aliases: []string{"ParentWorkflowId"}, Keyword: func(f *Facts) string {
		if p := f.X.Parent; p != nil {
			return p.WorkflowID
		}
		return ""
	}},
	{Name: "root_id", Kind: KindKeyword, Aliases: []string{"RootWorkflowId"}, Keyword: func(f *Facts) string {
		if p := f.X.Parent; p != nil {
			return p.RootWorkflowID
		}
		return ""
	}},
	// updates: the names of the updates a run accepted, and of those whose
	// handler still runs (update_names:amend, pending_updates:*).
	{Name: "update_names", Kind: KindKeyword, Keywords: func(f *Facts) []string { return f.UpdateNames }},
	{Name: "pending_updates", Kind: KindKeyword, Keywords: func(f *Facts) []string { return f.PendingUpdates }},
	// scheduled_by and scheduled_start_time: the schedule that started the
	// run (or the run it continues) and the fire's nominal time; other
	// runs have no value.
	{Name: "scheduled_by", Kind: KindKeyword, Aliases: []string{"TemporalScheduledById"},
		Keyword: func(f *Facts) string { return f.X.ScheduledBy }},
	{Name: "scheduled_start_time", Kind: KindTime, Aliases: []string{"TemporalScheduledStartTime"},
		Time: func(f *Facts) time.Time { return f.X.ScheduledStartTime }},
}

// NameSet is the set of names of the built-in fields keep selects (the
// windowed sort fields, the exact-only numbers).
func NameSet(keep func(*Spec) bool) map[string]bool {
	out := map[string]bool{}
	for i := range Builtin {
		if keep(&Builtin[i]) {
			out[Builtin[i].Name] = true
		}
	}
	return out
}

// ExecutionStatus is the state Temporal would report for x: running while
// it runs, then how it closed (never compensated).
func ExecutionStatus(x *engine.Execution) engine.Status {
	if x.CloseStatus != "" {
		return x.CloseStatus
	}
	return x.Status
}
