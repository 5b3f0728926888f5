package tui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// compensateDialog shows a run's compensation plan and runs it after the
// workflow id is typed. Nothing runs while the plan is loading or empty.
type compensateDialog struct {
	id      int
	t       target
	plan    []CompensationStep
	planErr error
	loading bool
	reason  lineEdit
	typed   typedConfirm
	focus   int // 0 reason, 1 typed
	err     string
}

func newCompensateDialog(m *Model, t target) *compensateDialog {
	return &compensateDialog{id: m.id(), t: t, typed: typedConfirm{need: t.WorkflowID}}
}

func (d *compensateDialog) mid() int { return d.id }

func (d *compensateDialog) fetch(m *Model) tea.Cmd {
	d.loading = true
	return fetchPlan(m, d.id, d.t)
}

// fetchPlan asks for a run's compensation plan; the detail tab uses it too.
func fetchPlan(m *Model, to int, t target) tea.Cmd {
	b, ctx, timeout := m.b, m.ctx, m.opts.RequestTimeout
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		plan, err := b.CompensationPlan(c, t.WorkflowID, t.RunID)
		return planMsg{addr: addr{to}, plan: plan, err: err}
	}
}

func (d *compensateDialog) receive(m *Model, msg tea.Msg) tea.Cmd {
	if p, ok := msg.(planMsg); ok {
		d.loading, d.plan, d.planErr = false, p.plan, p.err
	}
	return nil
}

func (d *compensateDialog) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.closeModal()
		return nil
	case "tab", "shift+tab":
		d.focus = 1 - d.focus
		return nil
	case "enter":
		if d.focus == 0 {
			d.focus = 1
			return nil
		}
		return d.submit(m)
	}
	editReasonOrTyped(d.focus, &d.reason, &d.typed, &d.err, k)
	return nil
}

func (d *compensateDialog) paste(s string) {
	if d.focus == 0 {
		d.reason.insert(s)
	} else {
		d.typed.in.insert(s)
	}
}

func (d *compensateDialog) submit(m *Model) tea.Cmd {
	switch {
	case d.loading:
		d.err = "the plan is still loading"
	case d.planErr != nil:
		d.err = "cannot compensate without a plan: " + errorText(d.planErr)
	case pendingSteps(d.plan) == 0:
		d.err = "nothing to compensate: no pending step"
	case !d.typed.ok():
		d.err = "that does not match: " + d.typed.label()
	default:
		return m.dispatch(action{kind: actCompensate, scope: scope{targets: []target{d.t}}, reason: strings.TrimSpace(d.reason.value())})
	}
	return nil
}

func pendingSteps(plan []CompensationStep) int {
	n := 0
	for _, s := range plan {
		if s.State == "" || s.State == "pending" || s.State == "failed" {
			n++
		}
	}
	return n
}

func (d *compensateDialog) box(m *Model, w, h int) string {
	st := &m.st
	iw := dialogWidth(w)
	parts := []string{scopeLines(st, scope{targets: []target{d.t}}, iw)}
	if d.t.Status == engine.StatusRunning {
		parts = append(parts, wrapText(st.Error, "This run is still running: it is terminated first (no workflow code "+
			"runs, no cleanup), then its compensations run.", iw))
	}
	switch {
	case d.loading:
		parts = append(parts, st.Dim.Render("loading the compensation plan…"))
	case d.planErr != nil:
		parts = append(parts, wrapText(st.Error, "plan: "+errorText(d.planErr), iw))
	default:
		parts = append(parts, fmt.Sprintf("Runs %d compensation(s), newest first, as activities recorded in history:", pendingSteps(d.plan)),
			planTable(st, d.plan, iw, max(h-22, 3)))
	}
	parts = append(parts, field(st, "Reason (recorded in history)", &d.reason, iw, d.focus == 0),
		field(st, d.typed.label(), &d.typed.in, iw, d.focus == 1))
	if d.err != "" {
		parts = append(parts, wrapText(st.Error, d.err, iw))
	}
	parts = append(parts, st.Dim.Render("enter on the last field compensates · esc close"))
	return dialogBox(st, "Compensate this run?", parts, iw, h, true)
}

// planTable renders plan steps in order (the plan is newest first).
func planTable(st *Styles, plan []CompensationStep, width, rows int) string {
	if len(plan) == 0 {
		return st.Dim.Render("  no compensations registered")
	}
	var b strings.Builder
	b.WriteString(st.ColHeader.Render(fit("  #", 6) + " " + fit("ACTIVITY", 24) + " " + fit("STATE", 10) + " " + fit("INPUT", max(width-44, 4))))
	for i, s := range plan {
		if i == rows {
			b.WriteString(fmt.Sprintf("\n  … %d more", len(plan)-rows))
			break
		}
		state := s.State
		if state == "" {
			state = "pending"
		}
		stateCell := fit(state, 10)
		switch state {
		case "failed":
			stateCell = st.Fail.Render(stateCell)
		case "completed":
			stateCell = st.OK.Render(stateCell)
		}
		line := fit(fmt.Sprintf("%3d", i+1), 6) + " " + fit(s.Activity, 24) + " " + stateCell + " " + fit(compactJSON(s.Input), max(width-44, 4))
		if s.Error != "" {
			line += "\n      " + st.Fail.Render(fit(oneLine(s.Error), width-6))
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}
