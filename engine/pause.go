package engine

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Pausing a run, operating on its pending activities, and dead letters
// (issue 18). A paused run gets no workflow task: what arrives meanwhile
// (a timer falling due, an activity's result, a signal) is recorded in
// history as it comes, once, and the code sees it on resume. An activity
// attempt that falls due while the run or the activity is paused is held
// (ActivityOperation "held"); resuming releases it ("released"), and the
// dispatcher derives its task from that event, so a held attempt is
// dispatched once whatever crashes in between.

// WorkflowPaused pauses a run: by an operator, or by the engine when an
// activity's retries ran out under a pause-on-exhaustion policy (a dead
// letter: DeadLetter, the activity and its last error).
type WorkflowPaused struct {
	Reason       string   `json:"reason,omitempty"`
	DeadLetter   bool     `json:"dead_letter,omitempty"`
	Seq          int64    `json:"seq,omitempty"`
	ActivityType string   `json:"activity_type,omitempty"`
	Failure      *Failure `json:"failure,omitempty"`
	Identity     string   `json:"identity,omitempty"`
	OnBehalfOf   string   `json:"on_behalf_of,omitempty"`
	Sig          string   `json:"sig,omitempty"`
}

// WorkflowUnpaused resumes a paused run (and lifts its dead letters).
type WorkflowUnpaused struct {
	Reason     string `json:"reason,omitempty"`
	Identity   string `json:"identity,omitempty"`
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Sig        string `json:"sig,omitempty"`
}

// Activity operations (ActivityOperation.Op). The first seven are an
// operator's; held and released are recorded by workers.
const (
	ActivityOpRetry    = "retry"          // run the next attempt now (skips the backoff, lifts a dead letter)
	ActivityOpPause    = "pause"          // hold the activity's next attempts
	ActivityOpUnpause  = "unpause"        // release them
	ActivityOpReset    = "reset"          // the retry policy counts attempts from 1 again
	ActivityOpUpdate   = "update-options" // new timeouts and retry policy, from the next attempt on
	ActivityOpComplete = "complete"       // complete it by hand with a result
	ActivityOpFail     = "fail"           // fail it by hand with an error
	activityOpHeld     = "held"           // an attempt fell due while paused
	activityOpReleased = "released"       // a held attempt is dispatched
)

// ActivityOperation records an operation on one pending activity.
type ActivityOperation struct {
	Seq int64  `json:"seq"`
	Op  string `json:"op"`
	// Attempt is the attempt the operation found current.
	Attempt int                    `json:"attempt,omitempty"`
	Reason  string                 `json:"reason,omitempty"`
	Options *ActivityOptionsUpdate `json:"options,omitempty"`
	Result  json.RawMessage        `json:"result,omitempty"`
	Failure *Failure               `json:"failure,omitempty"`

	Identity   string `json:"identity,omitempty"`
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Sig        string `json:"sig,omitempty"`
}

// ActivityOptionsUpdate changes a pending activity's options from its next
// attempt on; zero fields are left as they are.
type ActivityOptionsUpdate struct {
	ScheduleToStartTimeout time.Duration `json:"schedule_to_start_timeout,omitempty"`
	StartToCloseTimeout    time.Duration `json:"start_to_close_timeout,omitempty"`
	ScheduleToCloseTimeout time.Duration `json:"schedule_to_close_timeout,omitempty"`
	HeartbeatTimeout       time.Duration `json:"heartbeat_timeout,omitempty"`
	// RetryPolicy's non-zero fields replace the current policy's
	// (MaximumAttempts -1: unlimited).
	RetryPolicy *RetryPolicy `json:"retry_policy,omitempty"`
}

// applyTo returns o with the update applied.
func (u *ActivityOptionsUpdate) applyTo(o ActivityOptions) ActivityOptions {
	if u == nil {
		return o
	}
	set := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	set(&o.ScheduleToStartTimeout, u.ScheduleToStartTimeout)
	set(&o.StartToCloseTimeout, u.StartToCloseTimeout)
	set(&o.ScheduleToCloseTimeout, u.ScheduleToCloseTimeout)
	set(&o.HeartbeatTimeout, u.HeartbeatTimeout)
	if r := u.RetryPolicy; r != nil {
		p := DefaultRetryPolicy
		if o.RetryPolicy != nil {
			p = *o.RetryPolicy
		}
		set(&p.InitialInterval, r.InitialInterval)
		set(&p.MaximumInterval, r.MaximumInterval)
		if r.BackoffCoefficient != 0 {
			p.BackoffCoefficient = r.BackoffCoefficient
		}
		switch {
		case r.MaximumAttempts < 0:
			p.MaximumAttempts = 0
		case r.MaximumAttempts > 0:
			p.MaximumAttempts = r.MaximumAttempts
		}
		if r.NonRetryableErrorTypes != nil {
			p.NonRetryableErrorTypes = r.NonRetryableErrorTypes
		}
		p.PauseOnExhaustion = p.PauseOnExhaustion || r.PauseOnExhaustion
		o.RetryPolicy = &p
	}
	return o
}

// PauseInfo says who paused a run, when and why (Execution.Paused).
type PauseInfo struct {
	At         time.Time `json:"at"`
	By         string    `json:"by,omitempty"`
	OnBehalfOf string    `json:"on_behalf_of,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	// DeadLetter: the engine paused the run because an activity's retries
	// ran out (ActivityType, Seq) with Failure.
	DeadLetter   bool     `json:"dead_letter,omitempty"`
	ActivityType string   `json:"activity_type,omitempty"`
	Seq          int64    `json:"seq,omitempty"`
	Failure      *Failure `json:"failure,omitempty"`
}

// pauseSet is what keeps a run paused: an operator's pause, and the dead
// letters not yet lifted (by a retry, reset, completion or failure of
// their activity, or an unpause). Replay and Summarize fold it alike.
type pauseSet struct {
	op   *PauseInfo
	dead map[int64]*PauseInfo
}

func (p *pauseSet) paused() bool { return p.op != nil || len(p.dead) > 0 }

func (p *pauseSet) pause(e Event, a *WorkflowPaused) {
	info := &PauseInfo{At: e.Time, By: a.Identity, OnBehalfOf: a.OnBehalfOf, Reason: a.Reason,
		DeadLetter: a.DeadLetter, ActivityType: a.ActivityType, Seq: a.Seq, Failure: a.Failure}
	if !a.DeadLetter {
		p.op = info
		return
	}
	if p.dead == nil {
		p.dead = map[int64]*PauseInfo{}
	}
	p.dead[a.Seq] = info
}

// unpause lifts everything and returns the dead-lettered activities.
func (p *pauseSet) unpause() []int64 {
	seqs := slices.Sorted(maps.Keys(p.dead))
	p.op, p.dead = nil, nil
	return seqs
}

func (p *pauseSet) lift(seq int64) { delete(p.dead, seq) }

// info is the pause to show: the operator's, else the first dead letter.
func (p *pauseSet) info() *PauseInfo {
	if p.op != nil {
		return p.op
	}
	var first *PauseInfo
	for _, d := range p.dead {
		if first == nil || d.Seq < first.Seq {
			first = d
		}
	}
	return first
}

// liftsDeadLetter tells whether an operation ends its activity's dead
// letter: it runs again (retry, reset) or ends (complete, fail).
func liftsDeadLetter(op string) bool {
	switch op {
	case ActivityOpRetry, ActivityOpReset, ActivityOpComplete, ActivityOpFail:
		return true
	}
	return false
}

// Act is an event that records an operator's act on a run (a pause, an
// unpause, an activity operation): who and why, for readers such as the
// search index.
type Act interface{ Act() (by, reason string) }

func (a *WorkflowPaused) Act() (by, reason string)    { return a.Identity, a.Reason }
func (a *WorkflowUnpaused) Act() (by, reason string)  { return a.Identity, a.Reason }
func (a *ActivityOperation) Act() (by, reason string) { return a.Identity, a.Reason }

// workerRecorded tells whether the event is one a worker writes unsigned
// (a dead letter, a held or released attempt): not an operator's act.
func (a *WorkflowPaused) workerRecorded() bool { return a.DeadLetter && a.Identity == "" }
func (a *ActivityOperation) workerRecorded() bool {
	return (a.Op == activityOpHeld || a.Op == activityOpReleased) && a.Identity == ""
}

func (a *WorkflowPaused) stamp(p, o string)    { a.Identity, a.OnBehalfOf = p, o }
func (a *WorkflowPaused) principal() string    { return a.Identity }
func (a *WorkflowPaused) onBehalf() string     { return a.OnBehalfOf }
func (a *WorkflowPaused) sigField() *string    { return &a.Sig }
func (a WorkflowPaused) unsigned() any         { a.Sig = ""; return a }
func (a *WorkflowUnpaused) stamp(p, o string)  { a.Identity, a.OnBehalfOf = p, o }
func (a *WorkflowUnpaused) principal() string  { return a.Identity }
func (a *WorkflowUnpaused) onBehalf() string   { return a.OnBehalfOf }
func (a *WorkflowUnpaused) sigField() *string  { return &a.Sig }
func (a WorkflowUnpaused) unsigned() any       { a.Sig = ""; return a }
func (a *ActivityOperation) stamp(p, o string) { a.Identity, a.OnBehalfOf = p, o }
func (a *ActivityOperation) principal() string { return a.Identity }
func (a *ActivityOperation) onBehalf() string  { return a.OnBehalfOf }
func (a *ActivityOperation) sigField() *string { return &a.Sig }
func (a ActivityOperation) unsigned() any      { a.Sig = ""; return a }
