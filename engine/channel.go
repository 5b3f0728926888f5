package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Channel is a deterministic channel for workflow code; signal channels are
// Channels too.
type Channel interface {
	// Send blocks until the value is buffered or received.
	Send(ctx Context, v any)
	// Receive blocks for the next value and stores it in valuePtr (nil to
	// discard). more is false once the channel is closed and drained. A
	// signal payload that does not decode into valuePtr leaves it zero.
	Receive(ctx Context, valuePtr any) (more bool)
	// ReceiveAsync takes a value if one is ready.
	ReceiveAsync(valuePtr any) (ok bool)
	// Len counts buffered values.
	Len() int
	// Close closes the channel.
	Close()
}

type channelImpl struct {
	env      *workflowEnv
	name     string
	capacity int
	buf      []any
	closed   bool
	taken    int // values received so far, to complete unbuffered sends
}

func newChannelImpl(env *workflowEnv, name string, capacity int) *channelImpl {
	return &channelImpl{env: env, name: name, capacity: capacity}
}

// NewChannel returns an unbuffered channel.
func NewChannel(ctx Context) Channel { return newChannelImpl(mustCtx(ctx).env, "channel", 0) }

// NewBufferedChannel returns a channel with room for size values.
func NewBufferedChannel(ctx Context, size int) Channel {
	return newChannelImpl(mustCtx(ctx).env, "channel", size)
}

// NewNamedChannel returns an unbuffered channel that __stack shows by name.
func NewNamedChannel(ctx Context, name string) Channel {
	return newChannelImpl(mustCtx(ctx).env, name, 0)
}

func (c *channelImpl) Send(ctx Context, v any) {
	wc := mustCtx(ctx)
	if c.closed {
		panic(fmt.Sprintf("engine: send on closed channel %s", c.name))
	}
	desc := func() string { return "send on " + c.name }
	if c.capacity > 0 {
		wc.block(desc, func() bool { return len(c.buf) < c.capacity })
		c.buf = append(c.buf, v)
		return
	}
	// Unbuffered: the value waits in the buffer until a receiver takes it.
	c.buf = append(c.buf, v)
	target := c.taken + len(c.buf)
	wc.block(desc, func() bool { return c.taken >= target || c.closed })
}

func (c *channelImpl) Receive(ctx Context, valuePtr any) bool {
	wc := mustCtx(ctx)
	wc.block(func() string { return "receive on " + c.name }, c.ready)
	return c.take(valuePtr)
}

func (c *channelImpl) ReceiveAsync(valuePtr any) bool {
	if len(c.buf) == 0 {
		return false
	}
	return c.take(valuePtr)
}

func (c *channelImpl) take(valuePtr any) bool {
	if len(c.buf) == 0 {
		return false // closed and drained
	}
	v := c.buf[0]
	c.buf[0] = nil
	c.buf = c.buf[1:]
	c.taken++
	assign(valuePtr, v)
	return true
}

func (c *channelImpl) Len() int { return len(c.buf) }

func (c *channelImpl) Close() { c.closeNow() }

func (c *channelImpl) closeNow() { c.closed = true }

func (c *channelImpl) ready() bool { return len(c.buf) > 0 || c.closed }

// assign stores v in valuePtr: JSON payloads (signals, results) are decoded,
// Go values are copied.
func assign(valuePtr any, v any) {
	if valuePtr == nil {
		return
	}
	if raw, ok := v.(json.RawMessage); ok {
		if p, ok := valuePtr.(*json.RawMessage); ok {
			*p = raw
			return
		}
		if len(raw) == 0 {
			return
		}
		// A payload from outside (a signal) that does not fit leaves the value
		// zero, as Temporal does: panicking would wedge the run on every replay
		// for a message the workflow cannot refuse. The raw payload stays in
		// history; receive into *json.RawMessage to validate it yourself.
		if err := json.Unmarshal(raw, valuePtr); err != nil {
			if pv := reflect.ValueOf(valuePtr); pv.Kind() == reflect.Pointer && !pv.IsNil() {
				pv.Elem().SetZero()
			}
		}
		return
	}
	pv := reflect.ValueOf(valuePtr)
	if pv.Kind() != reflect.Pointer || pv.IsNil() {
		panic(fmt.Sprintf("engine: receive needs a non-nil pointer, got %T", valuePtr))
	}
	if v == nil {
		pv.Elem().SetZero()
		return
	}
	rv := reflect.ValueOf(v)
	if !rv.Type().AssignableTo(pv.Elem().Type()) {
		panic(fmt.Sprintf("engine: cannot store %T in %T", v, valuePtr))
	}
	pv.Elem().Set(rv)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
