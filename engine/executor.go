package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/foremanhq/foreman/engine/internal/clock"
)

// workflowEnv is the live state of one run: its coroutines, the commands
// they issued, and what they wait for. It is rebuilt by replaying history
// and then advanced one workflow task at a time.
type workflowEnv struct {
	reg   *registry
	info  WorkflowInfo
	clock clock.Clock // for describing waits (__stack), never for decisions

	sched     scheduler
	now       time.Time
	replaying bool
	// replayCmds are the command events of the task batch being replayed:
	// SideEffect and GetVersion read their recorded values from it.
	replayCmds []Event

	seq     int64
	pending []*command // issued by the code, not yet in history
	closing bool       // a close command was issued: later commands are dropped

	activities map[int64]*activityState
	timers     map[int64]*timerState
	approvals  map[int64]*approvalState
	signals    map[string]*channelImpl
	listening  map[string]bool // signal names the code asked for (GetSignalChannel)
	queries    map[string]reflect.Value
	versions   map[string]int
	markers    map[string][]Marker // RecordMarker's markers by kind, in order

	rootScope *cancelScope
	root      *wfContext

	parent   *ParentRef            // set on a child run
	children map[int64]*childState // workflow_child.go
	sends    map[int64]*futureImpl // external signals sent, by seq

	closed          bool
	cancelRequested bool
	// unprocessed is set when events the code has not yet seen were applied
	// (a signal, a cancel request, a decision): a workflow task is due.
	unprocessed bool

	lastEventID int64
	// lastEventTime is the newest event time history holds.
	lastEventTime time.Time
	lastSeq       uint64 // store sequence of the last batch applied
	// trace is the traceparent of the run's start (its first batch's
	// header): every workflow task's span is its child (tracing.go).
	trace string
	// historyBytes is the size of the history batches applied (or
	// appended), for the history-size metric at close.
	historyBytes int64

	status   string
	progress [2]int64
	attrs    map[string]SearchAttribute

	updates updateTable // workflow_update.go
	// pauses keeps the run paused (pause.go): no code runs while it is.
	pauses pauseSet
	// held are the activities whose current attempt waits for dispatch.
	held map[int64]bool
}

type command struct {
	typ   EventType
	attrs any    // what must match on replay: the registry's replayKey of these
	desc  string // for non-determinism messages
	// recorded runs when the command's event is in history (live or replay).
	recorded func()
}

type activityState struct {
	seq         int64
	typ         string
	opts        ActivityOptions
	input       json.RawMessage
	scheduledAt time.Time
	attempt     int
	lastFailure *Failure
	nextAttempt time.Time
	done        bool
	future      *futureImpl
	uncancel    func()

	// paused: an operator paused the activity. dispatched: its current
	// attempt was released (dispatched by history), so its retry timer is
	// moot. base: attempts before it the retry policy no longer counts
	// (an operator's reset). deadLetter: its attempts ran out and the run
	// is paused for it.
	paused, dispatched, deadLetter bool
	base                           int
}

type timerState struct {
	seq      int64
	fireAt   time.Time
	done     bool
	future   *futureImpl
	uncancel func()
}

type approvalState struct {
	seq         int64
	name        string
	description string
	approvers   []string
	requestedAt time.Time
	timeout     time.Duration
	done        bool
	future      *futureImpl
}

func newWorkflowEnv(reg *registry, clk clock.Clock) *workflowEnv {
	env := &workflowEnv{
		reg:        reg,
		clock:      clk,
		activities: map[int64]*activityState{},
		timers:     map[int64]*timerState{},
		approvals:  map[int64]*approvalState{},
		signals:    map[string]*channelImpl{},
		listening:  map[string]bool{},
		queries:    map[string]reflect.Value{},
		versions:   map[string]int{},
		markers:    map[string][]Marker{},
		attrs:      map[string]SearchAttribute{},
		held:       map[int64]bool{},
	}
	env.rootScope = newCancelScope(env, nil)
	return env
}

// taskError is a failure of a workflow task (not of the workflow): the task
// is retried with backoff and the failure recorded for operators.
type taskError struct {
	code  string
	msg   string
	stack string
}

func (e *taskError) Error() string { return fmt.Sprintf("[%s] %s", e.code, e.msg) }

// applyBatch replays one stored history batch.
func (env *workflowEnv) applyBatch(sb StoredBatch, b *Batch) error {
	if len(b.Events) > 0 && b.Events[0].ID != env.lastEventID+1 {
		return &taskError{code: CodeBadHistory, msg: fmt.Sprintf("history batch at sequence %d starts at event %d, expected %d", sb.Seq, b.Events[0].ID, env.lastEventID+1)}
	}
	isTask := b.Kind == BatchTask && len(b.Events) > 0 && b.Events[len(b.Events)-1].Type == EventWorkflowTaskCompleted
	var err error
	if isTask {
		err = env.replayTasks(b)
	} else {
		for _, e := range b.Events {
			if err = env.apply(e); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if n := len(b.Events); n > 0 {
		env.lastEventID = b.Events[n-1].ID
		env.lastEventTime = latest(env.lastEventTime, b.Events[n-1].Time)
	}
	env.lastSeq = sb.Seq
	env.historyBytes += int64(len(sb.Data))
	if sb.Header.FirstEventID == 1 {
		env.trace = sb.Header.Trace
	}
	return nil
}

// latest is the later of two times: new events are never dated before the
// ones history already holds (gaps in history are never negative, even
// when two processes' estimates of the server's clock differ slightly).
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// replayTasks replays a task batch: one workflow task, or several a chain
// stored together (worker_chain.go), each ending with its
// WorkflowTaskCompleted and run at that event's time (the batch's
// TaskTime is the last one's).
func (env *workflowEnv) replayTasks(b *Batch) error {
	begin := 0
	for i, e := range b.Events[:len(b.Events)-1] {
		if e.Type != EventWorkflowTaskCompleted {
			continue
		}
		if err := env.replayTask(&Batch{Kind: BatchTask, TaskTime: e.Time, Events: b.Events[begin : i+1]}); err != nil {
			return err
		}
		begin = i + 1
	}
	if begin == 0 {
		return env.replayTask(b)
	}
	return env.replayTask(&Batch{Kind: BatchTask, TaskTime: b.TaskTime, Events: b.Events[begin:]})
}

// replayTask re-runs the code for a recorded workflow task and checks that it
// issues exactly the recorded commands.
func (env *workflowEnv) replayTask(b *Batch) error {
	env.now = b.TaskTime
	var cmds []Event
	for _, e := range b.Events {
		if e.Type.IsCommand() {
			cmds = append(cmds, e)
			continue
		}
		if err := env.apply(e); err != nil {
			return err
		}
	}
	env.replaying, env.replayCmds = true, cmds
	err := env.runCode()
	env.replaying, env.replayCmds = false, nil
	if err != nil {
		return err
	}
	for _, e := range cmds {
		if len(env.pending) == 0 {
			return &NonDeterminismError{EventID: e.ID, Expected: describeEvent(e), Got: "issues no command there"}
		}
		c := env.pending[0]
		if kc, ke := replayKeyOf(c.typ, c.attrs), replayKeyOf(e.Type, e.Attrs); c.typ != e.Type || kc.seq != ke.seq || kc.key != ke.key {
			return &NonDeterminismError{EventID: e.ID, Expected: describeEvent(e), Got: c.desc}
		}
		env.pending = env.pending[1:]
		env.recordCommand(c)
	}
	if len(env.pending) > 0 {
		last := b.Events[len(b.Events)-1].ID
		return &NonDeterminismError{EventID: last, Expected: "no further command in that workflow task", Got: env.pending[0].desc}
	}
	env.unprocessed = false
	return nil
}

// liveTask advances the code with new inbound events and returns the batch
// to append: the inbound events, the new commands, WorkflowTaskCompleted.
func (env *workflowEnv) liveTask(inbound []Event, now time.Time, identity string) (*Batch, error) {
	env.now = now
	b := &Batch{Kind: BatchTask, TaskTime: now}
	id := env.lastEventID
	for _, e := range inbound {
		id++
		e.ID, e.Time = id, now
		if err := env.apply(e); err != nil {
			return nil, err
		}
		b.Events = append(b.Events, e)
	}
	if err := env.runCode(); err != nil {
		return nil, err
	}
	for _, c := range env.pending {
		id++
		b.Events = append(b.Events, Event{ID: id, Type: c.typ, Time: now, Attrs: c.attrs})
		env.recordCommand(c)
	}
	env.pending = nil
	id++
	b.Events = append(b.Events, Event{ID: id, Type: EventWorkflowTaskCompleted, Time: now, Attrs: &WorkflowTaskCompleted{Identity: identity}})
	env.lastEventID = id
	env.lastEventTime = latest(env.lastEventTime, now)
	env.unprocessed = false
	return b, nil
}

func (env *workflowEnv) recordCommand(c *command) {
	if c.typ.Closes() {
		env.closed = true
	}
	if c.recorded != nil {
		c.recorded()
	}
}

// runCode runs coroutines until all are blocked; a panic in workflow code is
// a task failure.
func (env *workflowEnv) runCode() error {
	if env.closed {
		return nil
	}
	p, stack := env.sched.run()
	if p != nil {
		return &taskError{code: CodeWorkflowPanic, msg: fmt.Sprintf("workflow code panicked: %v", p), stack: stack}
	}
	if env.closing {
		env.sched.close()
	}
	return nil
}

// close releases the run's goroutines.
func (env *workflowEnv) close() { env.sched.close() }

func (env *workflowEnv) nextSeq() int64 {
	env.seq++
	return env.seq
}

func (env *workflowEnv) addCommand(c *command) {
	if env.closing {
		return
	}
	if c.typ.Closes() {
		env.closing = true
	}
	env.pending = append(env.pending, c)
}

// apply applies a fact (not a command) from history to the state.
func (env *workflowEnv) apply(e Event) error {
	switch a := e.Attrs.(type) {
	case *WorkflowStarted:
		return env.start(a)
	case *ActivityCompleted:
		if st := env.activities[a.Seq]; st != nil && !st.done {
			env.complete(st, a.Attempt, a.Result)
		}
	case *ActivityFailed:
		if st := env.activities[a.Seq]; st != nil && !st.done {
			env.fail(st, a.Attempt, a.Failure)
		}
	case *ActivityAttemptFailed:
		if st := env.activities[a.Seq]; st != nil && !st.done {
			st.attempt, st.lastFailure, st.nextAttempt = a.Attempt+1, a.Failure, a.NextAttempt
			st.dispatched, st.deadLetter = false, a.DeadLetter
			env.hold(st, a.DeadLetter)
		}
	case *TimerFired:
		if st := env.timers[a.Seq]; st != nil && !st.done {
			st.done = true
			st.uncancel()
			st.future.Set(nil, nil)
			env.unprocessed = true
		}
	case *WorkflowPaused:
		env.pauses.pause(e, a)
	case *WorkflowUnpaused:
		for _, seq := range env.pauses.unpause() {
			if st := env.activities[seq]; st != nil {
				st.deadLetter = false
			}
		}
		env.unprocessed = true
	case *ActivityOperation:
		if st := env.activities[a.Seq]; st != nil && !st.done {
			env.operate(st, a)
		}
	case *SignalReceived:
		env.signalChannel(a.Name).buf = append(env.signalChannel(a.Name).buf, a.Payload)
		env.unprocessed = true
	case *ApprovalDecided:
		if st := env.approvals[a.Seq]; st != nil && !st.done {
			st.done = true
			st.future.Set(ApprovalDecision{Approved: a.Approved, By: a.By, Comment: a.Comment, At: e.Time}, nil)
		}
		env.unprocessed = true
	case *ApprovalTimedOut:
		if st := env.approvals[a.Seq]; st != nil && !st.done {
			st.done = true
			st.future.Set(nil, fmt.Errorf("approval %q: %w", st.name, ErrApprovalTimedOut))
			env.unprocessed = true
		}
	case *WorkflowCancelRequested:
		env.cancelRequested = true
		env.unprocessed = true
		env.rootScope.cancelNow()
	case *WorkflowTerminated, *WorkflowReset:
		env.closed = true
	case *WorkflowTaskCompleted, *WorkflowTaskFailed, *ResetApplied, *OperatorEventRejected:
	case *UpdateAccepted:
		env.applyUpdate(a)
	case *RunCompensated, *RunImported:
		// annotations of the run; a query or the replayer goes past them
	default:
		if env.applyChild(e) {
			return nil
		}
		return &taskError{code: CodeBadHistory, msg: fmt.Sprintf("event %d: %s is not expected outside a workflow task", e.ID, e.Type)}
	}
	return nil
}

func (st *activityState) finish() {
	st.done = true
	if st.uncancel != nil {
		st.uncancel()
	}
}

// complete and fail end an activity with its outcome. The code has not
// seen it yet (it may arrive while the run is paused, or by an operator's
// hand): a workflow task is due.
func (env *workflowEnv) complete(st *activityState, attempt int, result json.RawMessage) {
	st.finish()
	env.hold(st, false)
	st.attempt = attempt
	st.future.Set(result, nil)
	env.unprocessed = true
}

func (env *workflowEnv) fail(st *activityState, attempt int, f *Failure) {
	st.finish()
	env.hold(st, false)
	st.attempt, st.lastFailure = attempt, f
	st.future.Set(nil, &ActivityError{ActivityType: st.typ, Attempt: attempt, Failure: f})
	env.unprocessed = true
}

// hold sets whether the activity's current attempt waits for dispatch.
func (env *workflowEnv) hold(st *activityState, held bool) {
	if held {
		env.held[st.seq] = true
	} else {
		delete(env.held, st.seq)
	}
}

// operate applies an operation on a pending activity (pause.go).
func (env *workflowEnv) operate(st *activityState, a *ActivityOperation) {
	dead := st.deadLetter
	if liftsDeadLetter(a.Op) {
		env.pauses.lift(st.seq)
		st.deadLetter = false
	}
	switch a.Op {
	case activityOpHeld:
		env.hold(st, a.Attempt == st.attempt && !st.dispatched)
	case activityOpReleased:
		env.hold(st, false)
		st.dispatched = true
	case ActivityOpRetry:
		st.paused = false
		env.hold(st, !st.dispatched || dead)
	case ActivityOpPause:
		st.paused = true
	case ActivityOpUnpause:
		st.paused = false
	case ActivityOpReset:
		st.base = st.attempt - 1
		if dead {
			env.hold(st, true)
		}
	case ActivityOpUpdate:
		st.opts = a.Options.applyTo(st.opts)
	case ActivityOpComplete:
		env.complete(st, st.attempt, a.Result)
	case ActivityOpFail:
		f := a.Failure
		if f == nil {
			f = &Failure{Type: "OperatorFailed", Message: a.Reason}
		}
		env.fail(st, st.attempt, f)
	}
}

func (env *workflowEnv) signalChannel(name string) *channelImpl {
	ch := env.signals[name]
	if ch == nil {
		ch = newChannelImpl(env, "signal "+name, 0)
		env.signals[name] = ch
	}
	return ch
}

// start creates the root coroutine for the workflow function.
func (env *workflowEnv) start(a *WorkflowStarted) error {
	env.info = WorkflowInfo{WorkflowID: a.WorkflowID, RunID: a.RunID, WorkflowType: a.WorkflowType, TaskQueue: a.TaskQueue,
		ScheduledBy: a.ScheduledBy, ScheduledStartTime: a.ScheduledStartTime}
	env.parent = a.Parent
	fn, ok := env.reg.workflow(a.WorkflowType)
	if !ok {
		return &taskError{code: CodeUnknownWorkflow, msg: fmt.Sprintf("workflow type %q is not registered on this worker (registered: %s)", a.WorkflowType, env.reg.workflowNames())}
	}
	env.unprocessed = true
	root := &wfContext{env: env, cancel: env.rootScope}
	env.root = root
	input := a.Input
	co := env.sched.spawn("main", func() {
		result, err := fn.call(root, input)
		env.finish(result, err)
	})
	root.co = co
	return nil
}

// finish issues the command that closes the run.
func (env *workflowEnv) finish(result json.RawMessage, err error) {
	seq := env.nextSeq()
	var can *ContinueAsNewError
	switch {
	case errors.As(err, &can):
		env.continueAsNew(seq, can)
	case err == nil:
		env.addCommand(&command{typ: EventWorkflowCompleted, attrs: &WorkflowCompleted{Seq: seq, Result: result}, desc: "completes the workflow"})
	case env.cancelRequested && errors.Is(err, ErrCanceled):
		env.addCommand(&command{typ: EventWorkflowCanceled, attrs: &WorkflowCanceled{Seq: seq}, desc: "ends the workflow as canceled"})
	default:
		env.addCommand(&command{typ: EventWorkflowFailed, attrs: &WorkflowFailed{Seq: seq, Failure: FailureFrom(err)}, desc: "fails the workflow"})
	}
}

// replayMarker returns the value recorded for a marker issued at seq while
// replaying, if history has one.
func (env *workflowEnv) replayMarker(seq int64, kind, id string) (*MarkerRecorded, bool) {
	for _, e := range env.replayCmds {
		if m, ok := e.Attrs.(*MarkerRecorded); ok && m.Kind == kind && (seq == 0 || m.Seq == seq) && (id == "" || m.ID == id) {
			return m, true
		}
	}
	return nil, false
}
