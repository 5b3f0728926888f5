package engine

import "time"

// Context is what workflow code receives instead of context.Context: it
// carries the workflow's deterministic clock and coroutine, and its
// cancellation is part of the history.
type Context interface {
	// Done is closed when the context is cancelled.
	Done() Channel
	// Err is ErrCanceled once Done is closed, nil before.
	Err() error
	// Value returns the value stored for key by WithValue, or nil.
	Value(key any) any
}

// wfContext is the only Context implementation.
type wfContext struct {
	env    *workflowEnv
	co     *coroutine // the coroutine running the code that holds this context
	cancel *cancelScope
	key    any
	val    any
	parent *wfContext
}

func (c *wfContext) Done() Channel { return c.cancel.done }

func (c *wfContext) Err() error {
	if c.cancel.canceled {
		return ErrCanceled
	}
	return nil
}

func (c *wfContext) Value(key any) any {
	for x := c; x != nil; x = x.parent {
		if x.key != nil && x.key == key {
			return x.val
		}
	}
	return nil
}

func (c *wfContext) with(f func(*wfContext)) *wfContext {
	n := *c
	n.parent = c
	n.key, n.val = nil, nil
	f(&n)
	return &n
}

// cancelScope is a node in the tree of cancellable contexts. Cancelling a
// scope cancels its children and runs its callbacks (which issue cancel
// commands for pending activities and timers) in registration order.
type cancelScope struct {
	canceled  bool
	done      *channelImpl
	children  []*cancelScope
	callbacks []func()
}

func newCancelScope(env *workflowEnv, parent *cancelScope) *cancelScope {
	s := &cancelScope{done: newChannelImpl(env, "ctx.Done", 0)}
	if parent != nil {
		if parent.canceled {
			s.cancelNow()
		} else {
			parent.children = append(parent.children, s)
		}
	}
	return s
}

func (s *cancelScope) cancelNow() {
	if s.canceled {
		return
	}
	s.canceled = true
	s.done.closeNow()
	for _, cb := range s.callbacks {
		cb()
	}
	s.callbacks = nil
	for _, ch := range s.children {
		ch.cancelNow()
	}
}

// onCancel runs cb when the scope is cancelled; it returns a function that
// unregisters it.
func (s *cancelScope) onCancel(cb func()) (remove func()) {
	if s.canceled {
		cb()
		return func() {}
	}
	s.callbacks = append(s.callbacks, cb)
	i := len(s.callbacks) - 1
	return func() {
		if i < len(s.callbacks) {
			s.callbacks[i] = func() {}
		}
	}
}

// CancelFunc cancels a context created by WithCancel.
type CancelFunc func()

// WithCancel returns a child context and a function that cancels it.
func WithCancel(parent Context) (Context, CancelFunc) {
	p := mustCtx(parent)
	scope := newCancelScope(p.env, p.cancel)
	c := p.with(func(n *wfContext) { n.cancel = scope })
	return c, func() { scope.cancelNow() }
}

// WithValue returns a child context carrying val for key.
func WithValue(parent Context, key, val any) Context {
	p := mustCtx(parent)
	return p.with(func(n *wfContext) { n.key, n.val = key, val })
}

// NewDisconnectedContext returns a context that is not cancelled when the
// workflow is: cleanup code (compensations, notifications) runs with it
// after a cancel request.
func NewDisconnectedContext(parent Context) (Context, CancelFunc) {
	p := mustCtx(parent)
	scope := newCancelScope(p.env, nil)
	c := p.with(func(n *wfContext) { n.cancel = scope })
	return c, func() { scope.cancelNow() }
}

// Go starts fn as a new coroutine of the workflow. Use it instead of the go
// statement, which would break deterministic replay.
func Go(ctx Context, fn func(ctx Context)) {
	GoNamed(ctx, "", fn)
}

// GoNamed is Go with a name shown by the __stack query.
func GoNamed(ctx Context, name string, fn func(ctx Context)) {
	p := mustCtx(ctx)
	var child *wfContext
	co := p.env.sched.spawn(name, func() { fn(child) })
	child = p.with(func(n *wfContext) { n.co = co })
}

// Now returns the workflow's deterministic time: when the current workflow
// task started, the same on replay.
func Now(ctx Context) time.Time { return mustCtx(ctx).env.now }

// GetInfo describes the running workflow.
func GetInfo(ctx Context) WorkflowInfo { return mustCtx(ctx).env.info }

// WorkflowInfo identifies a run.
type WorkflowInfo struct {
	WorkflowID   string
	RunID        string
	WorkflowType string
	TaskQueue    string
	// ScheduledBy names the schedule that started the run (or the run it
	// continues), ScheduledStartTime the fire's nominal time.
	ScheduledBy        string
	ScheduledStartTime time.Time
}

// IsReplaying tells whether the code is re-executing recorded history (use
// it to avoid duplicate logs, never to change decisions).
func IsReplaying(ctx Context) bool { return mustCtx(ctx).env.replaying }

func mustCtx(ctx Context) *wfContext {
	c, ok := ctx.(*wfContext)
	if !ok || c == nil {
		panic("engine: not a workflow context; workflow APIs need the engine.Context the workflow received")
	}
	return c
}

// block waits in the calling coroutine until ready holds.
func (c *wfContext) block(desc func() string, ready func() bool) {
	c.co.wait(desc, ready)
}
