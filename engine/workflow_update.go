package engine

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Updates: a synchronous request to a running workflow, validated against
// its current state, durable once accepted (README "Updates").
//
// The request path, and why it is shaped so. Temporal sends an update to
// the server, which schedules a speculative workflow task; the worker runs
// the validator on its state and the server appends the acceptance only
// with that task's completion, so a rejection leaves nothing behind. Here
// the worker is reached directly: the client sends the request on the
// query bus (core NATS request/reply, answered by one worker of the run's
// task queue, no JetStream consumer), and the worker handles it as a
// workflow task whose inbound fact is the update (processWorkflowTask, the
// same path an activity result takes). Under the run's lock it judges the
// update on the run's state (judgeUpdate): a duplicate update id answers
// the first outcome, a run with inputs its code has not seen yet first
// runs that workflow task, then the validator runs; a rejection appends
// nothing, and a rejection judged on a cached state is judged again after
// catching up with history. An accepted update is appended as the first
// event of a workflow task batch (UpdateAccepted, then the commands of the
// code that ran its handler) with the run's optimistic-concurrency check:
// if anything was appended since the state the validator saw, the append
// fails and the update is judged again on the new state. So the validator
// always saw exactly the state the acceptance follows, and nothing but an
// acceptance is ever written.
//
// After the append the handler is part of the run: replay applies
// UpdateAccepted before running the code of its batch, which starts the
// handler again at the same point; its completion is a command
// (UpdateCompleted) matched by update id. A crash of the worker or engine
// after the append leaves the update in history; the run's next workflow
// task continues the handler, and a client repeating the request with the
// same update id is answered from history (deduplication is by the run's
// UpdateAccepted events). Waiting for completion reads the run's history
// after a wake-up from the client's shared reader of history headers
// (client_results.go), never a consumer per call.

// UpdateHandlerOptions configures an update handler.
type UpdateHandlerOptions struct {
	// Validator, if set, is a func(Context[, T]) error with the handler's
	// input type: it runs on the worker against the run's current state
	// before the update is accepted; an error rejects the update, which
	// then leaves no trace in history, and goes back to the caller. It
	// must only read workflow state: it may not block or issue commands
	// (activities, timers, status), which reject the update.
	Validator any
}

// Errors of updates; match them with errors.Is.
var (
	// ErrUnknownUpdate: the run's code has no handler for that update name.
	ErrUnknownUpdate = errors.New("unknown update")
	// ErrUpdateRejected: the handler's validator refused the update.
	ErrUpdateRejected = errors.New("update rejected")
	// ErrUpdateFailed: the handler returned an error (UpdateResult.Failure).
	ErrUpdateFailed = errors.New("update failed")
	// ErrUpdateAborted: the run closed (completed, failed, continued as
	// new, was terminated or reset past the update) before the accepted
	// update's handler returned.
	ErrUpdateAborted = errors.New("update aborted: the run closed before its handler returned")
)

// SetUpdateHandler makes the run answer updates named name with handler, a
// func(Context[, T]) ([R,] error). The handler runs as a coroutine of the
// workflow and may block (activities, timers, approvals); what it returns
// is the update's result. Register it early (before the workflow's first
// blocking call) so updates can find it.
func SetUpdateHandler(ctx Context, name string, handler any, opts UpdateHandlerOptions) error {
	env := mustCtx(ctx).env
	if name == "" {
		return errors.New("update handler: a name is required")
	}
	fi, err := inspectFunc(handler, contextType, "update handler "+name)
	if err != nil {
		return err
	}
	h := &updateHandler{fn: fi}
	if opts.Validator != nil {
		v, err := inspectFunc(opts.Validator, contextType, "update validator "+name)
		if err != nil {
			return err
		}
		if v.hasResult {
			return fmt.Errorf("update validator %s: must return only an error", name)
		}
		if v.inType != nil && v.inType != fi.inType {
			return fmt.Errorf("update validator %s: takes %s, the handler takes %v", name, v.inType, fi.inType)
		}
		h.validator = v
	}
	t := &env.updates
	if t.handlers == nil {
		t.handlers = map[string]*updateHandler{}
	}
	t.handlers[name] = h
	// Updates history accepted before the handler was set (a reset to an
	// earlier point) start now, in the order they were accepted.
	queued := t.queued
	t.queued = nil
	for _, a := range queued {
		env.startUpdate(a)
	}
	return nil
}

// updateTable is a run's update state.
type updateTable struct {
	handlers map[string]*updateHandler
	// accepted holds every update history accepted, by update id: the
	// deduplication of repeated requests.
	accepted map[string]*updateState
	queued   []*UpdateAccepted // accepted, waiting for their handler
}

type updateHandler struct {
	fn        *funcInfo
	validator *funcInfo // nil: every well-formed update is accepted
}

type updateState struct {
	name    string
	done    bool
	result  json.RawMessage
	failure *Failure
}

// applyUpdate applies an accepted update (live or on replay, before the
// code of its workflow task runs).
func (env *workflowEnv) applyUpdate(a *UpdateAccepted) {
	t := &env.updates
	if t.accepted == nil {
		t.accepted = map[string]*updateState{}
	}
	if t.accepted[a.UpdateID] != nil {
		return // never run twice (a forged or copied duplicate)
	}
	t.accepted[a.UpdateID] = &updateState{name: a.Name}
	env.unprocessed = true
	env.startUpdate(a)
}

// startUpdate runs the handler of an accepted update as a coroutine.
func (env *workflowEnv) startUpdate(a *UpdateAccepted) {
	h := env.updates.handlers[a.Name]
	if h == nil || env.root == nil {
		env.updates.queued = append(env.updates.queued, a)
		return
	}
	var ctx *wfContext
	co := env.sched.spawn("update "+a.Name+" "+a.UpdateID, func() {
		res, err := h.fn.call(ctx, a.Input)
		env.completeUpdate(a, res, err)
	})
	ctx = env.root.with(func(n *wfContext) { n.co = co })
}

// completeUpdate issues the command recording a handler's outcome.
func (env *workflowEnv) completeUpdate(a *UpdateAccepted, res json.RawMessage, err error) {
	seq := env.nextSeq()
	c := &UpdateCompleted{Seq: seq, UpdateID: a.UpdateID, Name: a.Name, Result: res, Failure: FailureFrom(err)}
	env.addCommand(&command{typ: EventUpdateCompleted, attrs: c, desc: fmt.Sprintf("completes update %s %s (seq %d)", a.Name, a.UpdateID, seq),
		recorded: func() {
			if st := env.updates.accepted[a.UpdateID]; st != nil {
				st.done, st.result, st.failure = true, c.Result, c.Failure
			}
		}})
}

// validateUpdate runs the checks an update must pass on the run's current
// state: a handler by that name, an input it can decode, its validator.
func (env *workflowEnv) validateUpdate(name string, input json.RawMessage) (err error) {
	h := env.updates.handlers[name]
	if h == nil {
		known := cmp.Or(strings.Join(slices.Sorted(maps.Keys(env.updates.handlers)), ", "), "none")
		return fmt.Errorf("%w: no update handler %q (known: %s)", ErrUnknownUpdate, name, known)
	}
	if h.fn.inType != nil && len(input) > 0 && string(input) != "null" {
		if err := json.Unmarshal(input, reflect.New(h.fn.inType).Interface()); err != nil {
			return fmt.Errorf("%w: decoding the input of update %s into %s: %v", ErrUpdateRejected, name, h.fn.inType, err)
		}
	}
	if h.validator == nil || env.root == nil {
		return nil
	}
	// The validator runs outside the scheduler, on a context with no
	// coroutine: a blocking call panics (recovered below) instead of
	// hanging the worker, and any command it issued is taken back.
	pending, seq := len(env.pending), env.seq
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: validator of update %s panicked (validators may not block): %v", ErrUpdateRejected, name, r)
		}
		if len(env.pending) != pending || env.seq != seq {
			env.pending, env.seq = env.pending[:pending], seq
			err = fmt.Errorf("%w: validator of update %s issued a workflow command; validators may only read state", ErrUpdateRejected, name)
		}
	}()
	ctx := env.root.with(func(n *wfContext) { n.co = nil })
	if _, verr := h.validator.call(ctx, input); verr != nil {
		return fmt.Errorf("%w: %s", ErrUpdateRejected, verr.Error())
	}
	return nil
}
