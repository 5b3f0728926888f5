package engine

import (
	"fmt"
	"time"

	"github.com/foremanhq/foreman/engine/internal/clock"
)

// ApprovalOptions describe a human approval.
type ApprovalOptions struct {
	Description string
	// Approvers, when set, are the only principals allowed to decide:
	// user names, and groups spelled "group:NAME" (a user of that group
	// decides). The engine checks them when the decision is made.
	Approvers []string
	// Timeout, when set, ends the wait with ErrApprovalTimedOut.
	Timeout time.Duration
	// FourEyes: whoever started the run may not decide (the engine
	// refuses, naming the rule).
	FourEyes bool
	// NotByField: nor the principal named by this top-level string field
	// of the run's input (the expense's "submitter").
	NotByField string
}

// ApprovalDecision is an operator's answer.
type ApprovalDecision struct {
	Approved bool      `json:"approved"`
	By       string    `json:"by"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// AwaitApproval records a request for a human decision named name and
// blocks until an operator approves or rejects it (the decision is returned
// either way), the timeout passes (ErrApprovalTimedOut) or ctx is cancelled
// (ErrCanceled). Pending approvals are searchable and listed in the
// console's approvals inbox.
func AwaitApproval(ctx Context, name string, opts ApprovalOptions) (ApprovalDecision, error) {
	wc := mustCtx(ctx)
	env := wc.env
	for _, st := range env.approvals {
		if st.name == name && !st.done {
			return ApprovalDecision{}, fmt.Errorf("approval %q is already pending in this workflow; use distinct names", name)
		}
	}
	seq := env.nextSeq()
	f := &futureImpl{}
	st := &approvalState{seq: seq, name: name, description: opts.Description, approvers: opts.Approvers,
		requestedAt: env.now, timeout: opts.Timeout, future: f}
	f.desc = func() string {
		return fmt.Sprintf("approval %s requested %s ago", name, clock.Since(env.clock, st.requestedAt).Round(time.Second))
	}
	env.approvals[seq] = st
	env.addCommand(&command{typ: EventApprovalRequested,
		attrs: &ApprovalRequested{Seq: seq, Name: name, Description: opts.Description, Approvers: opts.Approvers, Timeout: opts.Timeout,
			FourEyes: opts.FourEyes, NotByField: opts.NotByField},
		desc: fmt.Sprintf("requests approval %s (seq %d)", name, seq)})
	uncancel := wc.cancel.onCancel(func() { f.Set(nil, fmt.Errorf("approval %q: %w", name, ErrCanceled)) })
	var d ApprovalDecision
	err := f.Get(ctx, &d)
	uncancel()
	return d, err
}
