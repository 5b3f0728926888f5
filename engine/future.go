package engine

import "encoding/json"

// Future is a value that becomes ready later (an activity result, a timer).
type Future interface {
	// Get blocks until ready, stores the value in valuePtr (may be nil) and
	// returns the error, if any.
	Get(ctx Context, valuePtr any) error
	// IsReady tells whether Get would return at once.
	IsReady() bool
}

// Settable completes a Future made by NewFuture.
type Settable interface {
	Set(value any, err error)
}

type futureImpl struct {
	desc  func() string
	ready bool
	value any
	err   error
}

// NewFuture returns a future that workflow code completes itself.
func NewFuture(ctx Context) (Future, Settable) {
	f := &futureImpl{desc: func() string { return "future" }}
	return f, f
}

func (f *futureImpl) Set(value any, err error) {
	if f.ready {
		return
	}
	f.ready, f.value, f.err = true, value, err
}

func (f *futureImpl) IsReady() bool { return f.ready }

func (f *futureImpl) Get(ctx Context, valuePtr any) error {
	mustCtx(ctx).block(f.desc, f.IsReady)
	if f.err != nil {
		return f.err
	}
	if raw, ok := f.value.(json.RawMessage); ok && len(raw) == 0 {
		return nil
	}
	assign(valuePtr, f.value)
	return nil
}
