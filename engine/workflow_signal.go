package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// GetSignalChannel returns the channel signals named name arrive on.
// Signals sent before the workflow asks for the channel are buffered, never
// lost.
func GetSignalChannel(ctx Context, name string) Channel {
	env := mustCtx(ctx).env
	env.listening[name] = true // for the __handlers query
	return env.signalChannel(name)
}

// SetQueryHandler answers queries named name with fn, a func() (R, error)
// or func(T) (R, error). Handlers read workflow state and must not block.
func SetQueryHandler(ctx Context, name string, fn any) error {
	env := mustCtx(ctx).env
	if len(name) > 2 && name[:2] == "__" {
		return fmt.Errorf("query name %q is reserved for built-in queries", name)
	}
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func || t.NumIn() > 1 || t.NumOut() != 2 || t.Out(1) != errorType {
		return fmt.Errorf("query handler %q: want func([arg]) (result, error), got %T", name, fn)
	}
	env.queries[name] = v
	return nil
}

// runQuery calls a registered handler with JSON args.
func (env *workflowEnv) runQuery(name string, args json.RawMessage) (res json.RawMessage, err error) {
	switch name {
	case QueryStack:
		return json.Marshal(env.sched.stack())
	case QueryPending:
		return json.Marshal(env.pendingWork())
	case QueryHandlers:
		return json.Marshal(env.handlers())
	}
	h, ok := env.queries[name]
	if !ok {
		return nil, fmt.Errorf("%w: no query handler %q (known: %s)", ErrUnknownQuery, name, env.queryNames())
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("query handler %q panicked: %v", name, r)
		}
	}()
	var in []reflect.Value
	if h.Type().NumIn() == 1 {
		p := reflect.New(h.Type().In(0))
		if len(args) > 0 {
			if err := json.Unmarshal(args, p.Interface()); err != nil {
				return nil, fmt.Errorf("query %q: decoding arguments: %v", name, err)
			}
		}
		in = append(in, p.Elem())
	}
	out := h.Call(in)
	if e := out[1]; !e.IsNil() {
		return nil, e.Interface().(error)
	}
	return json.Marshal(out[0].Interface())
}

func (env *workflowEnv) queryNames() string {
	names := []string{QueryStack, QueryPending, QueryHandlers}
	for n := range env.queries {
		names = append(names, n)
	}
	return fmt.Sprint(names)
}

// handlers answers __handlers: what the code registered, as replaying its
// history up to now registers it.
func (env *workflowEnv) handlers() Handlers {
	h := Handlers{Queries: []string{}, Signals: []string{}}
	for n := range env.queries {
		h.Queries = append(h.Queries, n)
	}
	for n := range env.listening {
		h.Signals = append(h.Signals, n)
	}
	for n := range env.updates.handlers {
		h.Updates = append(h.Updates, n)
	}
	sort.Strings(h.Queries)
	sort.Strings(h.Signals)
	sort.Strings(h.Updates)
	return h
}

// Handlers is the answer of the QueryHandlers built-in: the query handlers
// a run's code has set (SetQueryHandler) and the signal names it has asked
// a channel for (GetSignalChannel), as of its history so far. A workflow
// that registers a handler only at some step lists it from that step on.
type Handlers struct {
	Queries []string `json:"queries"`
	Signals []string `json:"signals"`
	// Updates are the update names the code has a handler for
	// (SetUpdateHandler).
	Updates []string `json:"updates,omitempty"`
}

// Built-in queries.
const (
	// QueryStack answers what each coroutine is blocked on.
	QueryStack = "__stack"
	// QueryPending answers the pending activities, timers and approvals.
	QueryPending = "__pending"
	// QueryHandlers answers the run's own query handlers and the signal
	// names it listens on (Handlers), so a console can offer them before
	// anyone has used one.
	QueryHandlers = "__handlers"
)
