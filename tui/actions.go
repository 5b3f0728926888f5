package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// actionKind is an operator action on runs: a key of the console, mapped
// to its operator catalog entry (which says whether it writes and whether
// it is destructive).
type actionKind int

const (
	actSignal actionKind = iota + 1
	actApprove
	actReject
	actCancel
	actTerminate
	actReset
	actCompensate
	actUpdate // its dialog performs it and shows the result (update.go)
	actQuery  // read-only: opens the query tab; not a catalog action
	// pause.go: the run's pause, and operations on a pending activity
	actPause
	actUnpause
	actActivityRetry
	actActivityPause
	actActivityUnpause
	actActivityReset
	actActivityComplete
	actActivityFail
)

func (k actionKind) verb() string {
	return [...]string{"", "signal", "approve", "reject", "cancel", "terminate", "reset", "compensate", "update", "query",
		"pause", "unpause", "activity retry", "activity pause", "activity unpause", "activity reset", "activity complete", "activity fail"}[k]
}

// name is the action's operator catalog entry ("" for actQuery).
func (k actionKind) name() string {
	return [...]string{"", operator.ActSignal, operator.ActApprove, operator.ActReject, operator.ActCancel,
		operator.ActTerminate, operator.ActReset, operator.ActCompensate, operator.ActUpdate, "",
		operator.ActPause, operator.ActUnpause, operator.ActActivityRetry, operator.ActActivityPause, operator.ActActivityUnpause,
		operator.ActActivityReset, operator.ActActivityComplete, operator.ActActivityFail}[k]
}

func (k actionKind) entry() *operator.Action {
	a, _ := operator.Default.Lookup(k.name())
	return a
}

// writes tells whether the action changes runs, as the catalog says.
func (k actionKind) writes() bool {
	a := k.entry()
	return a != nil && a.Write
}

// destructive actions ask the operator to type the workflow id.
func (k actionKind) destructive() bool {
	a := k.entry()
	return a != nil && a.Destructive
}

// target is one run an action applies to, captured when its dialog opened:
// the dialog acts on this run even if the list moved under it meanwhile.
type target struct {
	WorkflowID string
	RunID      string
	Approval   string // approve/reject: the approval's name
	// Status is the run's status when the dialog opened ("" when not
	// known): actions the catalog does not allow in it are refused up front.
	Status engine.Status
}

func targetOf(d *searchapi.Doc) target {
	return target{WorkflowID: d.WorkflowID, RunID: d.RunID, Status: d.Status}
}

// applies tells whether kind can act on a run in status st, as the
// operator catalog says (an unknown status is let through: the engine
// decides).
func (k actionKind) applies(st engine.Status) bool {
	a := k.entry()
	return st == "" || a == nil || a.Allows(st)
}

// notApplicable is why kind is refused on every target of s before a
// dialog opens, or "" when at least one target accepts it.
func notApplicable(kind actionKind, s scope) string {
	if s.all || len(s.targets) == 0 {
		return ""
	}
	for _, t := range s.targets {
		if kind.applies(t.Status) {
			return ""
		}
	}
	states := make([]string, len(kind.entry().States))
	for i, st := range kind.entry().States {
		states[i] = string(st)
	}
	allowed := strings.Join(states, " or ")
	if len(s.targets) == 1 {
		t := s.targets[0]
		return fmt.Sprintf("%s: %s is %s; %s applies to %s runs only", kind.verb(), t.WorkflowID, t.Status, kind.verb(), allowed)
	}
	return fmt.Sprintf("%s: none of the %d marked runs is %s", kind.verb(), len(s.targets), allowed)
}

// applicable drops from keys the actions that do not apply to a run in
// status st (footers show only what can be done).
func (k keyMap) applicable(keys []key.Binding, st engine.Status) []key.Binding {
	out := keys[:0:0]
	all := k.actionBindings()
next:
	for _, b := range keys {
		for _, c := range all {
			if !c.kind.applies(st) && slices.Equal(c.b.Keys(), b.Keys()) {
				continue next
			}
		}
		out = append(out, b)
	}
	return out
}

func sortTargets(ts []target) {
	slices.SortFunc(ts, func(a, b target) int {
		if c := strings.Compare(a.WorkflowID, b.WorkflowID); c != 0 {
			return c
		}
		if c := strings.Compare(a.RunID, b.RunID); c != 0 {
			return c
		}
		return strings.Compare(a.Approval, b.Approval)
	})
}

// scope is what an action applies to: listed runs, or every match of a
// query (resolved page by page when the batch runs).
type scope struct {
	targets []target
	// approvals pending on the one target, when known (decide dialogs).
	approvals []engine.PendingApproval
	all       bool
	query     string
	sort      []string
	count     int
	label     string
}

// noun is what the scope counts: approvals when each target is one.
func (s scope) noun() string {
	if len(s.targets) > 0 && s.targets[0].Approval != "" {
		return "approvals"
	}
	return "runs"
}

func (s scope) size() int {
	if s.all {
		return s.count
	}
	return len(s.targets)
}

// action is a fully specified write, ready to dispatch.
type action struct {
	kind    actionKind
	scope   scope
	reason  string // cancel, terminate, reset, compensate; the comment of a decision
	signal  string
	payload json.RawMessage
	resetTo string
	reapply bool
	// approval is decided on each run of an all-matches batch.
	approval string
	updateID string // update: its deduplication id (signal holds its name)
	// activity selects the pending activity an activity operation is on.
	activity string
}

// actionBinding is the key that starts an action.
type actionBinding struct {
	b    key.Binding
	kind actionKind
}

func (ks keyMap) actionBindings() []actionBinding {
	return []actionBinding{
		{ks.Signal, actSignal}, {ks.Approve, actApprove}, {ks.Reject, actReject}, {ks.Cancel, actCancel},
		{ks.Terminate, actTerminate}, {ks.Reset, actReset}, {ks.Compensate, actCompensate}, {ks.Query, actQuery},
		{ks.Update, actUpdate},
		{ks.Pause, actPause}, {ks.Unpause, actUnpause},
	}
}

// actionFor maps a key to the action it starts on the current screen.
func (m *Model) actionFor(k tea.KeyPressMsg) (actionKind, bool) {
	for _, c := range m.keys.actionBindings() {
		if key.Matches(k, c.b) {
			return c.kind, true
		}
	}
	return 0, false
}

// refusal is why the actions the console was given refuse kind outright
// (read-only mode: operator.ReadOnly), or nil. The console holds no rule
// of its own: it asks the decorator every write goes through.
func (m *Model) refusal(kind actionKind) error {
	if kind.name() == "" {
		return nil
	}
	return m.acts.Check(operator.Request{Action: kind.name()})
}

// beginAction opens the dialog that completes and confirms an action. The
// targets are captured now, so what the operator confirms is what runs.
func (m *Model) beginAction(kind actionKind, s scope) tea.Cmd {
	if s.size() == 0 && !errors.Is(m.refusal(kind), operator.ErrReadOnly) {
		return m.flashErr("%s: no runs to act on", kind.verb())
	}
	if cmd, no := m.cannotAct(kind); no {
		return cmd
	}
	if why := notApplicable(kind, s); why != "" {
		return m.flashErr("%s", why)
	}
	switch kind {
	case actApprove, actReject:
		d, cmd := newDecideDialog(m, kind, s)
		if d == nil {
			return cmd
		}
		m.modal = d
		return cmd
	case actSignal:
		d := newSignalDialog(m, s)
		m.modal = d
		return d.askHandlers(m)
	case actReset:
		if len(s.targets) != 1 || s.all {
			return m.flashErr("reset works on one run at a time: open it and pick the event on its timeline")
		}
		d := newResetDialog(m, s.targets[0], "last-good", nil)
		m.modal = d
		return d.preview(m)
	case actCompensate:
		if len(s.targets) != 1 || s.all {
			return m.flashErr("compensate works on one run at a time, after reading its plan")
		}
		d := newCompensateDialog(m, s.targets[0])
		m.modal = d
		return d.fetch(m)
	case actUpdate:
		if len(s.targets) != 1 || s.all {
			return m.flashErr("update works on one run at a time in the console (foreman update -q QUERY for a batch)")
		}
		d := newUpdateDialog(m, s)
		m.modal = d
		return d.askHandlers(m)
	default:
		m.modal = newConfirmDialog(m, action{kind: kind, scope: s})
	}
	return nil
}

// cannotAct says why kind cannot start now (read-only, or offline), if
// it cannot.
func (m *Model) cannotAct(kind actionKind) (tea.Cmd, bool) {
	if errors.Is(m.refusal(kind), operator.ErrReadOnly) {
		return m.flashErr("read-only: %s is disabled", kind.verb()), true
	}
	if err := m.offline(); err != nil {
		return m.flashErr("%s: %v", kind.verb(), err), true
	}
	return nil, false
}

// dispatch is where writes start: one run at once, several through the
// batch runner. Whatever screen or dialog asked, the write goes through
// m.acts, behind the read-only decorator; a refusal is told here before a
// batch dialog opens.
func (m *Model) dispatch(a action) tea.Cmd {
	if err := m.refusal(a.kind); err != nil {
		m.closeModal()
		if errors.Is(err, operator.ErrReadOnly) {
			return m.flashErr("read-only: %s refused", a.kind.verb())
		}
		return m.flashErr("%s: %v", a.kind.verb(), err)
	}
	if err := m.offline(); err != nil {
		m.closeModal()
		return m.flashErr("%s: %v", a.kind.verb(), err)
	}
	if a.scope.all || len(a.scope.targets) > 1 {
		d := newBatchDialog(m, a)
		m.modal = d
		return d.start(m)
	}
	m.closeModal()
	t := a.scope.targets[0]
	acts, ctx, to := m.acts, m.ctx, m.opts.RequestTimeout
	spin := m.startRunning(a.kind.verb() + " " + t.WorkflowID)
	return tea.Batch(spin, func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, to)
		defer cancel()
		res, err := perform(c, acts, a, t)
		return actionDoneMsg{act: a, t: t, res: res, err: err}
	})
}

// request is the operator request of a on one run (Target "" for a batch).
func (a action) request(t target) operator.Request {
	p := operator.Params{Reason: a.reason, Name: a.signal, Input: a.payload, To: a.resetTo, ReapplySignals: a.reapply, Approval: a.approval,
		UpdateID: a.updateID, UpdateWait: engine.WaitForCompleted, Activity: a.activity}
	if a.kind == actApprove || a.kind == actReject {
		p.Reason, p.Comment = "", a.reason
	}
	return operator.Request{Action: a.kind.name(), Target: operator.Target{WorkflowID: t.WorkflowID, RunID: t.RunID, Approval: t.Approval}, Params: p}
}

// perform runs a on one run. Only dispatch calls it.
func perform(ctx context.Context, acts operator.Actions, a action, t target) (ResetPreview, error) {
	if (a.kind == actApprove || a.kind == actReject) && t.Approval == "" {
		return ResetPreview{}, errors.New("no pending approval named")
	}
	out, err := acts.Perform(ctx, a.request(t))
	if err != nil {
		return ResetPreview{}, err
	}
	return resetPreviewOf(out), nil
}

// previewReset asks for a dry run of a reset (a read: read-only lets it by).
func previewReset(ctx context.Context, acts operator.Actions, t target, to string, reapply bool) (ResetPreview, error) {
	out, err := acts.Perform(ctx, operator.Request{Action: operator.ActReset, Target: operator.Target{WorkflowID: t.WorkflowID, RunID: t.RunID},
		Params: operator.Params{To: to, ReapplySignals: reapply, DryRun: true}})
	if err != nil {
		return ResetPreview{}, err
	}
	return resetPreviewOf(out), nil
}

// storeView saves a named search (a write: refused in read-only mode).
func storeView(ctx context.Context, acts operator.Actions, name, query string) error {
	_, err := acts.Perform(ctx, operator.Request{Action: operator.ActViewSave, Params: operator.Params{Name: name, Query: query}})
	return err
}

// resetPreviewOf reads a reset's result out of an outcome.
func resetPreviewOf(out operator.Outcome) ResetPreview {
	res, ok := out.Data.(engine.ResetResult)
	if !ok {
		return ResetPreview{}
	}
	ids := func(events []engine.Event) []int64 {
		ids := make([]int64, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		return ids
	}
	return ResetPreview{To: res.ResetEventID, Kept: ids(res.Kept), Dropped: ids(res.Dropped), Reapplied: ids(res.Reapplied), NewRunID: res.NewRunID}
}

func (m *Model) onActionDone(msg actionDoneMsg) tea.Cmd {
	m.busy = nil
	what := msg.act.kind.verb() + " " + msg.t.WorkflowID
	if msg.t.Approval != "" {
		what += " (" + msg.t.Approval + ")"
	}
	if msg.err != nil {
		return m.flashErr("%s failed: %v", what, msg.err)
	}
	if d, ok := m.top().(*detailScreen); ok && d.wf == msg.t.WorkflowID {
		d.acted = true // its view must show what the action did
	}
	cmds := []tea.Cmd{m.top().refresh(m)}
	switch msg.act.kind {
	case actReset:
		cmds = append(cmds, m.flashOK("reset %s: new run %s", msg.t.WorkflowID, shortID(msg.res.NewRunID)))
		if d, ok := m.top().(*detailScreen); ok && d.wf == msg.t.WorkflowID && msg.res.NewRunID != "" {
			m.stack = m.stack[:len(m.stack)-1]
			cmds = append(cmds, m.push(newDetail(m, msg.t.WorkflowID, msg.res.NewRunID)))
		}
	case actApprove:
		cmds = append(cmds, m.flashOK("approved %s", strings.TrimPrefix(what, "approve ")))
	case actReject:
		cmds = append(cmds, m.flashOK("rejected %s", strings.TrimPrefix(what, "reject ")))
	default:
		cmds = append(cmds, m.flashOK("%s: done", what))
	}
	return tea.Batch(cmds...)
}

// copyText puts s on the clipboard of the operator's terminal (OSC 52,
// which also works over SSH).
func (m *Model) copyText(s, what string) tea.Cmd {
	return tea.Batch(tea.SetClipboard(s), m.flashOK("copied %s", what))
}

func (m *Model) copyJSON(v any, what string) tea.Cmd {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return m.flashErr("copy: %v", err)
	}
	return m.copyText(string(b), what)
}
