package tui

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// The text tabs of the detail view: pure functions of the run's summary.

func overviewText(m *Model, x *engine.Execution, events []engine.Event, w int) string {
	st := &m.st
	now := m.now()
	var b strings.Builder
	row := func(label, value string) {
		b.WriteString("  " + st.Dim.Render(fit(label, 12)) + value + "\n")
	}
	status := st.Status(x.Status).Render(statusGlyph(x.Status) + " " + statusWord(x.Status))
	if x.CancelRequested && x.Status == engine.StatusRunning {
		status += st.Warn.Render("  (cancel requested)")
	}
	row("Status", status)
	row("Workflow", x.WorkflowID)
	row("Run", x.RunID)
	row("Type", x.Type)
	row("Task queue", x.TaskQueue)
	if why := m.noWorkerReason(x); why != "" {
		row("Waiting", st.Fail.Render(fit("✗ "+why, w-16)))
	}
	start := x.StartTime
	if at, ok := resetAt(events); ok {
		// A reset run starts when the reset made it; its history replays
		// the replaced run's, start included.
		start = at
	}
	started := start.UTC().Format(time.RFC3339)
	if !start.IsZero() {
		started += st.Dim.Render(" (" + compactDuration(now.Sub(start)) + " ago)")
	}
	row("Started", started)
	if x.ResetFrom != "" {
		row("Reset from", x.ResetFrom+st.Dim.Render(" (its history from "+x.StartTime.UTC().Format(time.RFC3339)+")"))
	}
	if !x.CloseTime.IsZero() {
		row("Closed", x.CloseTime.UTC().Format(time.RFC3339)+st.Dim.Render(" (took "+compactDuration(x.CloseTime.Sub(x.StartTime))+")"))
	}
	row("History", thousands(x.HistoryLength)+" events")
	if x.StatusLine != "" && !statusLineStale(x.Status) {
		row("Status line", fit(oneLine(x.StatusLine), w-16))
	} else if x.StatusLine != "" {
		// Closed: the line is history, not what the run is doing.
		row("Last status", st.Dim.Render(fit(oneLine(x.StatusLine)+" (before it closed)", w-16)))
	}
	if x.Progress != nil {
		bar, pct := progressBar(x.Progress, 20)
		row("Progress", st.BarFull.Render(bar)+" "+pct+st.Dim.Render(fmt.Sprintf(" (%d of %d)", x.Progress.Done, x.Progress.Total)))
	}
	if x.TaskFailure != nil {
		row("Task failing", st.Fail.Render(fit(fmt.Sprintf("[%s] %s (attempt %d)", x.TaskFailure.Code, oneLine(x.TaskFailure.Message), x.TaskFailure.Attempt), w-16)))
		row("", st.Dim.Render("the workflow code cannot make progress; deploy a fixed worker and the task retries"))
	}
	if x.Failure != nil {
		row("Failure", st.Fail.Render(fit(oneLine(x.Failure.Error()), w-16)))
	}
	if x.ContinuedAs != "" {
		row("Continued as", x.ContinuedAs)
	}
	familyRows(m, x, row)
	if len(x.Signals) > 0 {
		row("Signals", fit(strings.Join(x.Signals, ", "), w-16))
	}
	section := func(title string, raw json.RawMessage) {
		if len(raw) == 0 {
			return
		}
		b.WriteString("\n  " + st.Title.Render(title) + "\n")
		for _, l := range strings.Split(prettyJSON(raw), "\n") {
			b.WriteString("    " + fit(l, w-4) + "\n")
		}
	}
	section("Input", x.Input)
	section("Result", x.Result)
	if len(x.SearchAttributes) > 0 {
		b.WriteString("\n  " + st.Title.Render("Search attributes") + "\n")
		keys := make([]string, 0, len(x.SearchAttributes))
		for k := range x.SearchAttributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			a := x.SearchAttributes[k]
			v, _ := json.Marshal(a.Value)
			b.WriteString("    " + fit(k+" = "+string(v)+st.Dim.Render(" ("+string(a.Type)+")"), w-4) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func pendingText(m *Model, x *engine.Execution, w int) string {
	st := &m.st
	now := m.now()
	if x.Status != engine.StatusRunning {
		return st.Dim.Render("  The run is " + statusWord(x.Status) + ": nothing is pending.")
	}
	var b strings.Builder
	b.WriteString("  " + st.Title.Render(fmt.Sprintf("Approvals (%d)", len(x.Approvals))) + "\n")
	for _, a := range x.Approvals {
		line := fmt.Sprintf("    %s  requested %s ago", st.Bold.Render(a.Name), compactDuration(now.Sub(a.RequestedAt)))
		if a.Timeout > 0 {
			line += fmt.Sprintf(", times out in %s", compactDuration(a.RequestedAt.Add(a.Timeout).Sub(now)))
		}
		if len(a.Approvers) > 0 {
			line += st.Dim.Render("  approvers: " + strings.Join(a.Approvers, ", "))
		}
		b.WriteString(fit(line, w) + "\n")
		if a.Description != "" {
			b.WriteString("      " + fit(oneLine(a.Description), w-6) + "\n")
		}
	}
	b.WriteString("\n  " + st.Title.Render(fmt.Sprintf("Activities (%d)", len(x.Activities))) + "\n")
	for _, a := range x.Activities {
		line := fmt.Sprintf("    #%d %s  attempt %d  scheduled %s ago", a.Seq, st.Bold.Render(a.ActivityType), a.Attempt, compactDuration(now.Sub(a.ScheduledAt)))
		if !a.NextAttempt.IsZero() {
			line += st.Warn.Render("  next retry in " + compactDuration(a.NextAttempt.Sub(now)))
		}
		b.WriteString(fit(line, w) + "\n")
		if a.LastFailure != nil {
			b.WriteString("      " + st.Fail.Render(fit("last error: "+oneLine(a.LastFailure.Error()), w-6)) + "\n")
		}
	}
	b.WriteString("\n  " + st.Title.Render(fmt.Sprintf("Timers (%d)", len(x.Timers))) + "\n")
	for _, t := range x.Timers {
		b.WriteString(fit(fmt.Sprintf("    #%d fires in %s (%s)", t.Seq, compactDuration(t.FireAt.Sub(now)), t.FireAt.UTC().Format(time.RFC3339)), w) + "\n")
	}
	if x.TaskFailure != nil {
		b.WriteString("\n  " + st.Fail.Render("Workflow task failing: "+oneLine(x.TaskFailure.Message)) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// stackText renders the __stack answer: what each coroutine waits for.
func stackText(m *Model, x *engine.Execution, s *asyncJSON, w int) string {
	st := &m.st
	switch {
	case x.Status != engine.StatusRunning:
		return st.Dim.Render("  The run is " + statusWord(x.Status) + ": no coroutine is live.")
	case s.loading:
		return st.Dim.Render("  asking a worker for __stack…")
	case s.err != nil:
		return st.Error.Render("  " + fit(errorText(s.err), w-2))
	case !s.loaded:
		return ""
	}
	var cs []engine.CoroutineState
	if err := json.Unmarshal(s.raw, &cs); err != nil {
		return "  " + prettyJSON(s.raw)
	}
	var b strings.Builder
	b.WriteString(st.ColHeader.Render("  "+fit("COROUTINE", 24)+" BLOCKED ON") + "\n")
	for _, c := range cs {
		name := c.Name
		if name == "" {
			name = "main"
		}
		b.WriteString("  " + fit(name, 24) + " " + fit(oneLine(c.BlockedOn), w-27) + "\n")
	}
	if len(cs) == 0 {
		b.WriteString(st.Dim.Render("  no live coroutine") + "\n")
	}
	b.WriteString("\n" + st.Dim.Render("  ctrl+r asks again"))
	return b.String()
}

// resetAt is when a reset made the run (its ResetApplied event).
func resetAt(events []engine.Event) (time.Time, bool) {
	for _, e := range events {
		if _, ok := e.Attrs.(*engine.ResetApplied); ok {
			return e.Time, true
		}
	}
	return time.Time{}, false
}
