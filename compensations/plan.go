package compensations

import (
	"encoding/json"
	"strconv"

	"github.com/foremanhq/foreman/engine"
)

// StepStatus is where one compensation stands.
type StepStatus string

const (
	StepPending StepStatus = "pending"
	StepOK      StepStatus = "ok"
	StepFailed  StepStatus = "failed" // ran and failed; runs again on the next Compensate
	StepSkipped StepStatus = "skipped"
)

// Step is one registered compensation.
type Step struct {
	// Seq identifies the registration in the run's history.
	Seq       int64                   `json:"seq"`
	Activity  string                  `json:"activity"`
	TaskQueue string                  `json:"task_queue"`
	Input     json.RawMessage         `json:"input,omitempty"`
	Options   *engine.ActivityOptions `json:"options,omitempty"`
	Status    StepStatus              `json:"status"`
}

// Plan is a run's compensations, newest first (the order they run in).
type Plan struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Steps      []Step `json:"steps"`
	// Compensated: every step ran successfully.
	Compensated bool `json:"compensated"`
	// Via names the operator-started compensation run, when there is one.
	Via string `json:"via,omitempty"`
}

// Pending lists the steps still to run (pending or failed), newest first.
func (p Plan) Pending() []Step {
	var out []Step
	for _, s := range p.Steps {
		if s.Status == StepPending || s.Status == StepFailed {
			out = append(out, s)
		}
	}
	return out
}

// PlanFromHistory reads a run's compensation plan from its events alone.
func PlanFromHistory(events []engine.Event) Plan {
	var p Plan
	var regs []Step
	status := map[int64]StepStatus{}
	for _, e := range events {
		switch a := e.Attrs.(type) {
		case *engine.WorkflowStarted:
			p.WorkflowID, p.RunID = a.WorkflowID, a.RunID
		case *engine.MarkerRecorded:
			switch a.Kind {
			case engine.MarkerCompensation:
				if s, ok := stepOf(a.Seq, a.Value); ok {
					regs = append(regs, s)
				}
			case engine.MarkerCompensationDone:
				applyDone(status, a.ID, a.Value)
			case engine.MarkerCompensated:
				p.Compensated = true
			}
		case *engine.RunCompensated:
			p.Compensated, p.Via = true, a.Via
		}
	}
	for i := len(regs) - 1; i >= 0; i-- {
		s := regs[i]
		if st, ok := status[s.Seq]; ok {
			s.Status = st
		}
		p.Steps = append(p.Steps, s)
	}
	return p
}

// merge folds the outcomes an operator-started compensation run recorded
// (its own markers) into the target's plan.
func (p *Plan) merge(compensator []engine.Event) {
	status := map[int64]StepStatus{}
	for _, e := range compensator {
		if m, ok := e.Attrs.(*engine.MarkerRecorded); ok && m.Kind == engine.MarkerCompensationDone {
			applyDone(status, m.ID, m.Value)
		}
	}
	for i := range p.Steps {
		if st, ok := status[p.Steps[i].Seq]; ok {
			p.Steps[i].Status = st
		}
	}
}

func applyDone(status map[int64]StepStatus, id string, value json.RawMessage) {
	seq, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return
	}
	var st StepStatus
	if json.Unmarshal(value, &st) == nil && st != "" {
		status[seq] = st
	}
}

func stepOf(seq int64, value json.RawMessage) (Step, bool) {
	var r registration
	if err := json.Unmarshal(value, &r); err != nil || r.Activity == "" {
		return Step{}, false
	}
	return Step{Seq: seq, Activity: r.Activity, TaskQueue: r.TaskQueue, Input: r.Input, Options: r.Options, Status: StepPending}, true
}
