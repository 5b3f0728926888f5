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
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// actionKind is an operator action on runs.
type actionKind int

const (
	actSignal actionKind = iota + 1
	actApprove
	actReject
	actCancel
	actTerminate
	actReset
	actCompensate
	actQuery // read-only: opens the query tab
)

func (k actionKind) verb() string {
	return [...]string{"", "signal", "approve", "reject", "cancel", "terminate", "reset", "compensate", "query"}[k]
}

// writes tells whether the action changes runs (refused in read-only mode).
func (k actionKind) writes() bool { return k != actQuery }

// destructive actions ask the operator to type the workflow id.
func (k actionKind) destructive() bool {
	return k == actTerminate || k == actReset || k == actCompensate
}

// target is one run an action applies to, captured when its dialog opened:
// the dialog acts on this run even if the list moved under it meanwhile.
type target struct {
	WorkflowID string
	RunID      string
	Approval   string // approve/reject: the approval's name
}

func targetOf(d *searchapi.Doc) target { return target{WorkflowID: d.WorkflowID, RunID: d.RunID} }

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
}

// actionFor maps a key to the action it starts on the current screen.
func (m *Model) actionFor(k tea.KeyPressMsg) (actionKind, bool) {
	ks := m.keys
	for _, c := range []struct {
		b    key.Binding
		kind actionKind
	}{
		{ks.Signal, actSignal}, {ks.Approve, actApprove}, {ks.Reject, actReject}, {ks.Cancel, actCancel},
		{ks.Terminate, actTerminate}, {ks.Reset, actReset}, {ks.Compensate, actCompensate}, {ks.Query, actQuery},
	} {
		if key.Matches(k, c.b) {
			return c.kind, true
		}
	}
	return 0, false
}

// beginAction opens the dialog that completes and confirms an action. The
// targets are captured now, so what the operator confirms is what runs.
func (m *Model) beginAction(kind actionKind, s scope) tea.Cmd {
	if m.opts.ReadOnly && kind.writes() {
		return m.flashErr("read-only: %s is disabled", kind.verb())
	}
	if s.size() == 0 {
		return m.flashErr("%s: no runs to act on", kind.verb())
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
		m.modal = newSignalDialog(m, s)
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
	default:
		m.modal = newConfirmDialog(m, action{kind: kind, scope: s})
	}
	return nil
}

// dispatch is the one place writes start. Read-only mode stops them here,
// whatever screen or dialog asked (a view that forgot cannot leak a write).
func (m *Model) dispatch(a action) tea.Cmd {
	if m.opts.ReadOnly && a.kind.writes() {
		m.closeModal()
		return m.flashErr("read-only: %s refused", a.kind.verb())
	}
	if a.scope.all || len(a.scope.targets) > 1 {
		d := newBatchDialog(m, a)
		m.modal = d
		return d.step(m)
	}
	m.closeModal()
	t := a.scope.targets[0]
	b, ctx, to := m.b, m.ctx, m.opts.RequestTimeout
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, to)
		defer cancel()
		res, err := perform(c, b, a, t)
		return actionDoneMsg{act: a, t: t, res: res, err: err}
	}
}

// perform calls the backend for one run. Only dispatch and the batch
// runner (started by dispatch) call it.
func perform(ctx context.Context, b Actor, a action, t target) (ResetPreview, error) {
	switch a.kind {
	case actSignal:
		return ResetPreview{}, b.Signal(ctx, t.WorkflowID, t.RunID, a.signal, a.payload)
	case actApprove, actReject:
		if t.Approval == "" {
			return ResetPreview{}, errors.New("no pending approval named")
		}
		return ResetPreview{}, b.Decide(ctx, t.WorkflowID, t.RunID, t.Approval, a.kind == actApprove, a.reason)
	case actCancel:
		return ResetPreview{}, b.Cancel(ctx, t.WorkflowID, t.RunID, a.reason)
	case actTerminate:
		return ResetPreview{}, b.Terminate(ctx, t.WorkflowID, t.RunID, a.reason)
	case actReset:
		return b.Reset(ctx, t.WorkflowID, t.RunID, a.resetTo, a.reapply, a.reason, false)
	case actCompensate:
		return ResetPreview{}, b.Compensate(ctx, t.WorkflowID, t.RunID, a.reason)
	}
	return ResetPreview{}, fmt.Errorf("unknown action %d", a.kind)
}

func (m *Model) onActionDone(msg actionDoneMsg) tea.Cmd {
	what := msg.act.kind.verb() + " " + msg.t.WorkflowID
	if msg.t.Approval != "" {
		what += " (" + msg.t.Approval + ")"
	}
	if msg.err != nil {
		return m.flashErr("%s failed: %v", what, msg.err)
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
