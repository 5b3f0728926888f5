package tui

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Paused runs and dead letters (issue 18): the :paused and :deadletters
// views, the p/e keys that pause and resume a run, and the Pending tab's
// keys that operate on one pending activity.

// pausedGlyph marks a paused run wherever its status shows (never colour
// alone).
const pausedGlyph = "⏸"

// pausedPreset is the condition of :paused and :deadletters.
func pausedPreset(kind listKind) preset {
	if kind == listDeadLetters {
		return preset{"status:running dead_lettered:true", "ExecutionStatus = 'Running' AND dead_lettered = true"}
	}
	return preset{"status:running paused:true", "ExecutionStatus = 'Running' AND paused = true"}
}

// pausedList sets up a :paused or :deadletters list: since when and why,
// longest paused first.
func pausedList(l *runList) {
	l.name = "paused"
	if l.kind == listDeadLetters {
		l.name = "deadletters"
	}
	l.cols = pausedColumns
	l.sortBy, l.desc = 2, false
	l.group = "paused_by"
	if l.kind == listDeadLetters {
		l.group = "last_error_type"
	}
}

var (
	colPausedAt = column{title: "PAUSED", field: "paused_at", width: 8, priority: 90, right: true, inverse: true, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if d.Paused == nil {
			return strings.Repeat(" ", w)
		}
		return c.r(c.st.Warn, fitRight(compactDuration(c.now.Sub(d.Paused.At)), w))
	}}
	colPauseWhy = column{title: "WHY", min: 16, weight: 12, priority: 95, measure: func(d *searchapi.Doc) int {
		if d.Paused == nil {
			return 0
		}
		return textWidth(pauseNote(d.Paused, d.Paused.At))
	}, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if d.Paused == nil {
			return strings.Repeat(" ", w)
		}
		return fit(pauseNote(d.Paused, c.now), w)
	}}
	pausedColumns = []column{colWorkflowID, colType, colPausedAt, colAttempts, colPauseWhy}
	colAttempts   = column{title: "ATT", field: "attempts", width: 4, priority: 60, right: true, cell: func(c cellCtx, d *searchapi.Doc, w int) string {
		if d.Attempts == 0 {
			return strings.Repeat(" ", w)
		}
		return fitRight(fmt.Sprint(d.Attempts), w)
	}}
)

// pauseNote says in one line who paused a run and why, or which activity
// ran out of attempts with what error.
func pauseNote(p *engine.PauseInfo, now time.Time) string {
	if p.DeadLetter {
		s := fmt.Sprintf("dead letter: %s ran out of attempts", p.ActivityType)
		if p.Failure != nil {
			s += ": " + oneLine(p.Failure.Error())
		}
		return s
	}
	s := "by " + p.By
	if ago := now.Sub(p.At); ago > 0 {
		s += " " + compactDuration(ago) + " ago"
	}
	if p.Reason != "" {
		s += ": " + oneLine(p.Reason)
	}
	return s
}

// activityNote is a pending activity's pause state, for the Pending tab.
func activityNote(a engine.PendingActivity) string {
	switch {
	case a.DeadLettered:
		return "dead letter: x retries it"
	case a.Paused:
		return "paused"
	case a.Held:
		return "held until the run resumes"
	}
	return ""
}

// disableRefused disables the bindings whose action read-only refuses.
func disableRefused(acts operator.Actions, bs map[*key.Binding]actionKind) {
	for b, kind := range bs {
		b.SetHelp(b.Help().Key, kind.name())
		if errors.Is(acts.Check(operator.Request{Action: kind.name()}), operator.ErrReadOnly) {
			b.SetEnabled(false)
		}
	}
}

// activityKeys act on the selected pending activity, on the Pending tab.
var activityKeys = struct {
	Next, Prev, Retry, Pause, Reset, Complete, Fail key.Binding
}{
	Next:     key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next activity")),
	Prev:     key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous activity")),
	Retry:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "retry now")),
	Pause:    key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "pause/unpause activity")),
	Reset:    key.NewBinding(key.WithKeys("X"), key.WithHelp("X", "reset attempts")),
	Complete: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "complete by hand")),
	Fail:     key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "fail by hand")),
}

func activityHelp() helpGroup {
	k := activityKeys
	return helpGroup{"Pending activity", []key.Binding{k.Next, k.Prev, k.Retry, k.Pause, k.Reset, k.Complete, k.Fail}}
}

// selectedActivity is the pending activity the Pending tab's keys act on.
func (d *detailScreen) selectedActivity() (engine.PendingActivity, bool) {
	if d.x == nil || len(d.x.Activities) == 0 {
		return engine.PendingActivity{}, false
	}
	for _, a := range d.x.Activities {
		if a.Seq == d.actSel {
			return a, true
		}
	}
	return d.x.Activities[0], true
}

// activityCursor marks the selected activity on the Pending tab.
func activityCursor(m *Model, seq int64) string {
	if d, ok := m.top().(*detailScreen); ok {
		if a, ok := d.selectedActivity(); ok && a.Seq == seq {
			return "▶"
		}
	}
	return " "
}

// activityKey handles the Pending tab's activity keys.
func (d *detailScreen) activityKey(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	ks := activityKeys
	if d.tab != tabPending || !key.Matches(k, ks.Next, ks.Prev, ks.Retry, ks.Pause, ks.Reset, ks.Complete, ks.Fail) {
		return nil, false
	}
	a, ok := d.selectedActivity()
	if !ok {
		return m.flashErr("no pending activity to act on"), true
	}
	switch {
	case key.Matches(k, ks.Next, ks.Prev):
		step := 1
		if key.Matches(k, ks.Prev) {
			step = -1
		}
		for i, p := range d.x.Activities {
			if p.Seq == a.Seq {
				n := len(d.x.Activities)
				d.actSel = d.x.Activities[(i+step+n)%n].Seq
			}
		}
		return nil, true
	}
	kind := actActivityRetry
	switch {
	case key.Matches(k, ks.Pause) && a.Paused:
		kind = actActivityUnpause
	case key.Matches(k, ks.Pause):
		kind = actActivityPause
	case key.Matches(k, ks.Reset):
		kind = actActivityReset
	case key.Matches(k, ks.Complete):
		kind = actActivityComplete
	case key.Matches(k, ks.Fail):
		kind = actActivityFail
	}
	if cmd, no := m.cannotAct(kind); no {
		return cmd, true
	}
	s := scope{targets: []target{d.target()}}
	if why := notApplicable(kind, s); why != "" {
		return m.flashErr("%s", why), true
	}
	m.modal = newConfirmDialog(m, action{kind: kind, scope: s, activity: fmt.Sprint(a.Seq)})
	return nil, true
}

// activityWhat explains an activity operation in its confirmation dialog.
func activityWhat(a action) string {
	name := "activity " + a.activity // a type: every pending one of that type
	if _, err := strconv.ParseInt(a.activity, 10, 64); err == nil {
		name = "activity seq " + a.activity
	}
	what := map[actionKind]string{
		actPause:            "No workflow task and no new activity attempt until unpause; running attempts may finish.",
		actUnpause:          "Resumes the run: what arrived meanwhile takes effect, held attempts run now.",
		actActivityRetry:    "Runs " + name + "'s next attempt now, skipping its backoff (lifts a dead letter).",
		actActivityPause:    "Holds " + name + "'s next attempts until it is unpaused.",
		actActivityUnpause:  "Releases " + name + ": a held attempt runs now.",
		actActivityReset:    "The retry policy counts " + name + "'s attempts from 1 again (a dead letter retries).",
		actActivityComplete: "Completes " + name + " by hand: the workflow receives the result below.",
		actActivityFail:     "Fails " + name + " by hand: the workflow receives the error below.",
	}
	return what[a.kind]
}

// reasonLabel is what the confirmation dialog's text field asks for.
func reasonLabel(kind actionKind) string {
	switch kind {
	case actActivityComplete:
		return "Result (JSON, what the activity returns)"
	case actActivityFail:
		return "Error message (recorded; the workflow sees it)"
	}
	return "Reason (recorded in history)"
}

// withReasonField reads the dialog's text field into a: the reason, or a
// hand-made completion's result.
func (a action) withReasonField(text string) (action, error) {
	if a.kind != actActivityComplete {
		a.reason = text
		return a, nil
	}
	if text == "" {
		text = "null"
	}
	if !json.Valid([]byte(text)) {
		return a, fmt.Errorf("the result is not valid JSON: %s", text)
	}
	a.payload, a.reason = json.RawMessage(text), "completed by hand in the console"
	return a, nil
}
