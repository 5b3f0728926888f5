package engine

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
)

// ParentClosePolicy says what happens to a child that is still open when
// its parent's run closes (completes, fails, is canceled, terminated or
// continued as new). The engine applies it, from the parent's close event,
// exactly once.
type ParentClosePolicy string

const (
	// ParentCloseTerminate terminates the child (the default).
	ParentCloseTerminate ParentClosePolicy = "terminate"
	// ParentCloseRequestCancel asks the child to cancel; its code decides
	// how to end.
	ParentCloseRequestCancel ParentClosePolicy = "request_cancel"
	// ParentCloseAbandon leaves the child running on its own. Cancelling
	// the parent's context does not cancel it either: the child's result
	// future then fails with ErrCanceled, and the child runs on.
	ParentCloseAbandon ParentClosePolicy = "abandon"
)

// ChildWorkflowOptions configure a child workflow.
type ChildWorkflowOptions struct {
	// ID is the child's workflow id; default "<parent id>/<seq>-<parent
	// run prefix>", unique per parent run.
	ID string
	// TaskQueue is the child's queue; default the parent's.
	TaskQueue string
	// RetryPolicy, if set, runs the child again (a new run of the same id,
	// after the policy's backoff) when a run fails; nil: no retry.
	RetryPolicy       *RetryPolicy
	ParentClosePolicy ParentClosePolicy
}

// ChildWorkflowFuture is the future of a child's result (Get), with a
// second future for its start (GetChildWorkflowExecution).
type ChildWorkflowFuture interface {
	Future
	// GetChildWorkflowExecution is ready once the child runs; its value is
	// the child's Run (workflow and first run id), or the start's failure
	// (the id is held by another open run: ErrAlreadyStarted).
	GetChildWorkflowExecution() Future
}

// ChildWorkflowError is the error of a child that closed without a result.
type ChildWorkflowError struct {
	WorkflowType string
	WorkflowID   string
	RunID        string
	Status       Status // failed, canceled, terminated
	Attempt      int
	Failure      *Failure
}

func (e *ChildWorkflowError) Error() string {
	return fmt.Sprintf("child workflow %s %q %s: %s", e.WorkflowType, e.WorkflowID, e.Status, e.Failure.Error())
}

// Unwrap lets errors.Is(err, ErrCanceled) tell a canceled child, and
// errors.As find the child's ApplicationError.
func (e *ChildWorkflowError) Unwrap() error {
	if e.Status == StatusCanceled {
		return ErrCanceled
	}
	return &ApplicationError{Type: e.Failure.Type, Message: e.Failure.Message, NonRetryable: e.Failure.NonRetryable}
}

type childFuture struct {
	*futureImpl
	start *futureImpl
}

func (f *childFuture) GetChildWorkflowExecution() Future { return f.start }

// childState is a child as the parent's code sees it.
type childState struct {
	seq             int64
	id, key, typ    string
	policy          ParentClosePolicy
	retry           *RetryPolicy
	attempt         int
	runID           string // the current attempt's run, once started
	started         bool   // the current attempt's start is recorded
	closed          bool
	cancelRequested bool
	start           *futureImpl
	result          *futureImpl
	uncancel        func()
}

// ExecuteChildWorkflow starts a child workflow (a registered function or
// its type name) with one input value. The child's start is exactly once
// (its ids are drawn here and recorded), its close reaches the parent
// exactly once, and cancelling ctx asks the child to cancel; the result
// future then fails when the child has closed, canceled. With
// ParentCloseAbandon the child is not asked: the future fails with
// ErrCanceled at once and the child runs on.
func ExecuteChildWorkflow(ctx Context, workflow any, input any, opts ChildWorkflowOptions) ChildWorkflowFuture {
	wc := mustCtx(ctx)
	env := wc.env
	name := FuncName(workflow)
	f := &childFuture{futureImpl: &futureImpl{}, start: &futureImpl{}}
	fail := func(err error) ChildWorkflowFuture {
		err = fmt.Errorf("child workflow %s: %w", name, err)
		f.start.Set(nil, err)
		f.Set(nil, err)
		return f
	}
	if opts.TaskQueue == "" {
		opts.TaskQueue = env.info.TaskQueue
	}
	switch opts.ParentClosePolicy {
	case "":
		opts.ParentClosePolicy = ParentCloseTerminate
	case ParentCloseTerminate, ParentCloseRequestCancel, ParentCloseAbandon:
	default:
		return fail(fmt.Errorf("%w: unknown parent close policy %q", ErrInvalidArgument, opts.ParentClosePolicy))
	}
	raw, err := encodePayload(input, "input of child workflow "+name)
	if err != nil {
		return fail(err)
	}
	seq := env.nextSeq()
	id, runID := opts.ID, ""
	if rec, ok := env.replayedCommand(EventStartChildWorkflowRequested, seq).(*StartChildWorkflowRequested); ok {
		id, runID = rec.WorkflowID, rec.RunID // the ids the live run drew
	}
	if id == "" {
		id = env.info.WorkflowID + "/" + strconv.FormatInt(seq, 10) + "-" + prefix(env.info.RunID, 8)
	}
	if runID == "" {
		runID = uuid.NewString()
	}
	if err := validateStart(StartOptions{ID: id, TaskQueue: opts.TaskQueue}); err != nil {
		// refused before any command: deterministic, as the same options
		// fail the same way on replay
		env.seq--
		return fail(err)
	}
	rootID, rootRun := env.info.WorkflowID, env.info.RunID
	if p := env.parent; p != nil {
		rootID, rootRun = p.RootWorkflowID, p.RootRunID
	}
	st := &childState{seq: seq, id: id, key: runID, typ: name, policy: opts.ParentClosePolicy, retry: opts.RetryPolicy,
		attempt: 1, start: f.start, result: f.futureImpl}
	f.start.desc = func() string { return fmt.Sprintf("start of child workflow %s %q", name, id) }
	f.desc = func() string { return fmt.Sprintf("child workflow %s %q attempt %d", name, id, st.attempt) }
	env.childStates()[seq] = st
	env.addCommand(&command{typ: EventStartChildWorkflowRequested, desc: fmt.Sprintf("starts child workflow %s (seq %d)", name, seq),
		attrs: &StartChildWorkflowRequested{Seq: seq, WorkflowID: id, RunID: runID, WorkflowType: name, TaskQueue: opts.TaskQueue,
			Input: raw, ParentClosePolicy: opts.ParentClosePolicy, RetryPolicy: opts.RetryPolicy, RootWorkflowID: rootID, RootRunID: rootRun}})
	if opts.ParentClosePolicy == ParentCloseAbandon {
		// The child runs on, but the parent stops waiting for it: a
		// cancelled parent whose code waits on its abandoned child would
		// otherwise never close.
		st.uncancel = wc.cancel.onCancel(func() {
			st.result.Set(nil, fmt.Errorf("child workflow %s %q was abandoned, not waited for: %w", name, id, ErrCanceled))
		})
	} else {
		st.uncancel = wc.cancel.onCancel(func() {
			if st.closed || st.cancelRequested {
				return
			}
			st.cancelRequested = true
			env.addCommand(&command{typ: EventChildWorkflowCancelRequested, desc: fmt.Sprintf("cancels child workflow %s (seq %d)", name, seq),
				attrs: &ChildWorkflowCancelRequested{Seq: seq, WorkflowID: id, Key: runID}})
		})
	}
	return f
}

// SignalExternalWorkflow sends a signal to another workflow (runID "" =
// its current run) from workflow code. The signal is delivered exactly
// once; the future is ready when the target's history holds it, or fails
// when there is no such open run (ErrWorkflowNotFound, ErrRunClosed).
func SignalExternalWorkflow(ctx Context, workflowID, runID, name string, arg any) Future {
	env := mustCtx(ctx).env
	f := &futureImpl{}
	if workflowID == "" || name == "" {
		f.Set(nil, fmt.Errorf("signal external workflow: %w: a workflow id and a signal name are required", ErrInvalidArgument))
		return f
	}
	raw, err := encodePayload(arg, "payload of signal "+name)
	if err != nil {
		f.Set(nil, err)
		return f
	}
	seq := env.nextSeq()
	reqID := uuid.NewString()
	if rec, ok := env.replayedCommand(EventExternalSignalRequested, seq).(*ExternalSignalRequested); ok {
		reqID = rec.RequestID
	}
	f.desc = func() string { return fmt.Sprintf("delivery of signal %s to %q", name, workflowID) }
	env.signalSends()[seq] = f
	env.addCommand(&command{typ: EventExternalSignalRequested, desc: fmt.Sprintf("signals %s to %q (seq %d)", name, workflowID, seq),
		attrs: &ExternalSignalRequested{Seq: seq, WorkflowID: workflowID, RunID: runID, Name: name, Payload: raw, RequestID: reqID}})
	return f
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (env *workflowEnv) childStates() map[int64]*childState {
	if env.children == nil {
		env.children = map[int64]*childState{}
	}
	return env.children
}

// lone tells whether the run has no parent and never asked for a child
// (a child command dropped after a close still counts: the answer may err
// only towards "not lone"). Only a state that holds the run's whole
// history (an append at its last sequence succeeds) may answer for it.
func (env *workflowEnv) lone() bool { return env.parent == nil && len(env.children) == 0 }

func (env *workflowEnv) signalSends() map[int64]*futureImpl {
	if env.sends == nil {
		env.sends = map[int64]*futureImpl{}
	}
	return env.sends
}

// replayedCommand returns the attributes of the command of type t at seq
// in the task being replayed, or nil live.
func (env *workflowEnv) replayedCommand(t EventType, seq int64) any {
	for _, e := range env.replayCmds {
		if e.Type == t && replayKeyOf(e.Type, e.Attrs).seq == seq {
			return e.Attrs
		}
	}
	return nil
}

// applyChild applies the facts of children and external signals; ok is
// false for any other event.
func (env *workflowEnv) applyChild(e Event) (ok bool) {
	kids := env.childStates()
	switch a := e.Attrs.(type) {
	case *ChildWorkflowStarted:
		if st := kids[a.Seq]; st != nil && !st.closed {
			st.started, st.runID, st.attempt = true, a.RunID, a.Attempt
			st.start.Set(Run{WorkflowID: a.WorkflowID, RunID: a.RunID}, nil)
		}
	case *ChildWorkflowStartFailed:
		if st := kids[a.Seq]; st != nil && !st.closed {
			err := fmt.Errorf("child workflow %s %q: %w", st.typ, a.WorkflowID, a.Failure)
			if a.Failure.Type == "AlreadyStarted" {
				err = fmt.Errorf("child workflow %s: %w: %s", st.typ, ErrAlreadyStarted, a.Failure.Message)
			}
			st.finish()
			st.start.Set(nil, err)
			st.result.Set(nil, err)
		}
	case *ChildWorkflowAttemptFailed:
		if st := kids[a.Seq]; st != nil && !st.closed {
			st.attempt, st.started = a.Attempt+1, false
		}
	case *ChildWorkflowCompleted:
		if st := kids[a.Seq]; st != nil && !st.closed {
			st.finish()
			st.result.Set(a.Result, nil)
		}
	case *ChildWorkflowFailed:
		if st := kids[a.Seq]; st != nil && !st.closed {
			st.finish()
			st.result.Set(nil, &ChildWorkflowError{WorkflowType: st.typ, WorkflowID: st.id, RunID: a.RunID, Status: a.Status, Attempt: a.Attempt, Failure: a.Failure})
		}
	case *ExternalSignalDelivered:
		if f := env.signalSends()[a.Seq]; f != nil {
			f.Set(nil, nil)
		}
	case *ExternalSignalFailed:
		if f := env.signalSends()[a.Seq]; f != nil {
			err := error(a.Failure)
			switch a.Failure.Type {
			case "WorkflowNotFound":
				err = fmt.Errorf("%w: %s", ErrWorkflowNotFound, a.Failure.Message)
			case "RunClosed":
				err = fmt.Errorf("%w: %s", ErrRunClosed, a.Failure.Message)
			}
			f.Set(nil, err)
		}
	default:
		return false
	}
	return true
}

func (st *childState) finish() {
	st.closed = true
	if st.uncancel != nil {
		st.uncancel()
	}
}

// failureType names the sentinel an engine-side failure stands for, so the
// code that reads it back gets the sentinel again.
func failureType(err error) string {
	switch {
	case errors.Is(err, ErrAlreadyStarted):
		return "AlreadyStarted"
	case errors.Is(err, ErrWorkflowNotFound):
		return "WorkflowNotFound"
	case errors.Is(err, ErrRunClosed):
		return "RunClosed"
	}
	return "Error"
}
