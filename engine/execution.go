package engine

import (
	"encoding/json"
	"sort"
	"time"
)

// Status of a run, as operators and the index see it.
type Status string

const (
	StatusRunning    Status = "running"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
	StatusTerminated Status = "terminated"
	// StatusContinuedAsNew: the run closed and a new run of the same id continues it.
	StatusContinuedAsNew Status = "continued_as_new"
	// StatusReset: an operator reset the run; a new run of the same id replaces it.
	StatusReset Status = "reset"
	// StatusCompensated: the run closed (completed, failed, canceled or
	// terminated) and its whole compensation plan ran, in the workflow or
	// by an operator afterwards. How it closed stays in
	// Execution.CloseStatus: a failed saga is status compensated, close
	// status failed.
	StatusCompensated Status = "compensated"
)

// PendingActivity is an activity that has not finished.
type PendingActivity struct {
	Seq          int64     `json:"seq"`
	ActivityType string    `json:"activity_type"`
	TaskQueue    string    `json:"task_queue"`
	Attempt      int       `json:"attempt"`
	ScheduledAt  time.Time `json:"scheduled_at"`
	LastFailure  *Failure  `json:"last_failure,omitempty"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"`
}

// PendingTimer is a timer that has not fired.
type PendingTimer struct {
	Seq    int64     `json:"seq"`
	FireAt time.Time `json:"fire_at"`
}

// PendingApproval is an approval nobody has decided yet.
type PendingApproval struct {
	Seq         int64         `json:"seq"`
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Approvers   []string      `json:"approvers,omitempty"`
	RequestedAt time.Time     `json:"requested_at"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	// FourEyes and NotByField: who may not decide (ApprovalOptions).
	FourEyes   bool   `json:"four_eyes,omitempty"`
	NotByField string `json:"not_by_field,omitempty"`
}

// PendingWork is what a run waits on (the __pending query, and Describe).
type PendingWork struct {
	Activities []PendingActivity `json:"pending_activities"`
	Timers     []PendingTimer    `json:"pending_timers"`
	Approvals  []PendingApproval `json:"pending_approvals"`
}

func (env *workflowEnv) pendingWork() PendingWork {
	var p PendingWork
	for _, st := range env.activities {
		if !st.done {
			p.Activities = append(p.Activities, PendingActivity{Seq: st.seq, ActivityType: st.typ, TaskQueue: st.opts.TaskQueue,
				Attempt: st.attempt, ScheduledAt: st.scheduledAt, LastFailure: st.lastFailure, NextAttempt: st.nextAttempt})
		}
	}
	for _, st := range env.timers {
		if !st.done {
			p.Timers = append(p.Timers, PendingTimer{Seq: st.seq, FireAt: st.fireAt})
		}
	}
	for _, st := range env.approvals {
		if !st.done {
			p.Approvals = append(p.Approvals, PendingApproval{Seq: st.seq, Name: st.name, Description: st.description,
				Approvers: st.approvers, RequestedAt: st.requestedAt, Timeout: st.timeout})
		}
	}
	p.sort()
	return p
}

func (p *PendingWork) sort() {
	sort.Slice(p.Activities, func(i, j int) bool { return p.Activities[i].Seq < p.Activities[j].Seq })
	sort.Slice(p.Timers, func(i, j int) bool { return p.Timers[i].Seq < p.Timers[j].Seq })
	sort.Slice(p.Approvals, func(i, j int) bool { return p.Approvals[i].Seq < p.Approvals[j].Seq })
}

// Execution summarizes a run from its history alone (no worker needed).
type Execution struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Type       string `json:"type"`
	TaskQueue  string `json:"task_queue"`
	Status     Status `json:"status"`
	// CloseStatus is how the run closed, before any compensation:
	// completed, failed, canceled, terminated, continued_as_new or reset;
	// empty while it runs. It differs from Status only when Status is
	// compensated.
	CloseStatus      Status                     `json:"close_status,omitempty"`
	StartTime        time.Time                  `json:"start_time"`
	CloseTime        time.Time                  `json:"close_time,omitzero"`
	Input            json.RawMessage            `json:"input,omitempty"`
	Result           json.RawMessage            `json:"result,omitempty"`
	Failure          *Failure                   `json:"failure,omitempty"`
	StatusLine       string                     `json:"status_line,omitempty"`
	Progress         *Progress                  `json:"progress,omitempty"`
	SearchAttributes map[string]SearchAttribute `json:"search_attributes,omitempty"`
	HistoryLength    int64                      `json:"history_length"`
	CancelRequested  bool                       `json:"cancel_requested,omitempty"`
	// TaskFailure is the last workflow-task failure not yet followed by a
	// completed task: the run is stuck until the code is fixed.
	TaskFailure *WorkflowTaskFailed `json:"task_failure,omitempty"`
	Signals     []string            `json:"signals,omitempty"`
	// ContinuedAs is the run that continues this one (continued_as_new).
	ContinuedAs string `json:"continued_as,omitempty"`
	// ResetTo is the run that replaced this one after an operator reset;
	// ResetFrom the run this one was reset from.
	ResetTo   string `json:"reset_to,omitempty"`
	ResetFrom string `json:"reset_from,omitempty"`
	// StartedBy is the principal that started the run (WorkflowStarted).
	StartedBy string `json:"started_by,omitempty"`
	// Actions are the operator actions on the run, oldest first, with who
	// performed them.
	Actions []OperatorAction `json:"actions,omitempty"`
	// Forgeries counts operator events history holds without the engine's
	// signature, which every reader ignored.
	Forgeries int `json:"forgeries,omitempty"`
	// Imported is set on a read-only copy of a run made by `foreman
	// import` (Client.Import): no worker runs it and writes refuse it.
	Imported *RunImported `json:"imported,omitempty"`
	// Parent is set on a child run: who started it, and the root of its tree.
	Parent *ParentRef `json:"parent,omitempty"`
	// Children are the child workflows the run started, in order.
	Children []ChildRun `json:"children,omitempty"`
	// Updates are the updates the run accepted, oldest first, with their
	// outcome once their handler returned.
	Updates []UpdateInfo `json:"updates,omitempty"`
	PendingWork
	// ScheduledBy names the schedule that started the run (or the run it
	// continues); ScheduledStartTime is the fire's nominal time.
	ScheduledBy        string    `json:"scheduled_by,omitempty"`
	ScheduledStartTime time.Time `json:"scheduled_start_time,omitzero"`
}

// OperatorAction is one operator action a run's history records.
type OperatorAction struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"` // "approved manager", "terminated"
	// By is the authenticated principal; OnBehalfOf what they declared.
	By         string `json:"by"`
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
}

// acted records an operator action on the summary.
func (x *summary) acted(e Event, what string, a operatorAttrs) {
	x.Actions = append(x.Actions, OperatorAction{At: e.Time, Action: what, By: a.principal(), OnBehalfOf: a.onBehalf()})
}

// Progress is done of total.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// summary is Summarize's state while it folds a history; the registry's
// entries (event_table_*.go) declare how each event type changes it.
type summary struct {
	*Execution
	compensated bool
	acts        map[int64]*PendingActivity
	timers      map[int64]*PendingTimer
	approvals   map[int64]*PendingApproval
}

// Summarize folds a run's events into an Execution.
func Summarize(events []Event) *Execution {
	x := &Execution{Status: StatusRunning}
	sum := &summary{Execution: x, acts: map[int64]*PendingActivity{}, timers: map[int64]*PendingTimer{}, approvals: map[int64]*PendingApproval{}}
	for _, e := range events {
		x.HistoryLength = e.ID
		specOf(e.Type).foldInto(sum, e)
	}
	if x.Status != StatusRunning {
		x.CloseStatus = x.Status
	}
	if sum.compensated {
		x.Status = compensatedStatus(x.Status)
	}
	if x.Status != StatusRunning {
		return x // nothing is pending on a closed run
	}
	for _, p := range sum.acts {
		x.Activities = append(x.Activities, *p)
	}
	for _, p := range sum.timers {
		x.Timers = append(x.Timers, *p)
	}
	for _, p := range sum.approvals {
		x.Approvals = append(x.Approvals, *p)
	}
	x.PendingWork.sort()
	return x
}

// compensatedStatus is the status of a run that closed with closed and
// whose compensation plan ran: compensated, unless another run replaced or
// continues it (those say where the work went on). A failure stays in the
// Execution: it is why the compensations ran.
func compensatedStatus(closed Status) Status {
	switch closed {
	case StatusCompleted, StatusFailed, StatusCanceled, StatusTerminated:
		return StatusCompensated
	}
	return closed
}
