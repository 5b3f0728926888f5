package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// registry maps workflow and activity type names to functions.
type registry struct {
	mu         sync.RWMutex
	workflows  map[string]*funcInfo
	activities map[string]*funcInfo
}

func newRegistry() *registry {
	return &registry{workflows: map[string]*funcInfo{}, activities: map[string]*funcInfo{}}
}

// funcInfo is a registered function: func(ctx[, in]) (R, error) or error.
type funcInfo struct {
	name      string
	fn        reflect.Value
	inType    reflect.Type // nil when the function takes no input
	hasResult bool
	// quick counts this activity's latest attempts in a row that ended
	// well within chainWait (worker_chain.go: only such are chained)
	quick atomic.Int32
}

var (
	contextType    = reflect.TypeFor[Context]()
	stdContextType = reflect.TypeFor[context.Context]()
	errorType      = reflect.TypeFor[error]()
)

// FuncName is the type name a function is registered under by default: its
// name without the package path ("Charge", "(*Shop).Charge" → "Charge").
func FuncName(fn any) string {
	if s, ok := fn.(string); ok {
		return s
	}
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return fmt.Sprintf("%T", fn)
	}
	full := runtime.FuncForPC(v.Pointer()).Name()
	full = strings.TrimSuffix(full, "-fm") // method values
	if i := strings.LastIndex(full, "."); i >= 0 {
		full = full[i+1:]
	}
	return full
}

func inspectFunc(fn any, ctxType reflect.Type, kind string) (*funcInfo, error) {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("%s must be a function, got %T", kind, fn)
	}
	if t.NumIn() < 1 || t.NumIn() > 2 || t.In(0) != ctxType {
		return nil, fmt.Errorf("%s %s: want func(%s[, input]) ([result,] error), got %s", kind, FuncName(fn), ctxType, t)
	}
	if t.NumOut() < 1 || t.NumOut() > 2 || t.Out(t.NumOut()-1) != errorType {
		return nil, fmt.Errorf("%s %s: must return ([result,] error), got %s", kind, FuncName(fn), t)
	}
	fi := &funcInfo{name: FuncName(fn), fn: v, hasResult: t.NumOut() == 2}
	if t.NumIn() == 2 {
		fi.inType = t.In(1)
	}
	return fi, nil
}

func (r *registry) registerWorkflow(name string, fn any) error {
	return r.register(r.workflows, contextType, "workflow", name, fn)
}

func (r *registry) registerActivity(name string, fn any) error {
	return r.register(r.activities, stdContextType, "activity", name, fn)
}

func (r *registry) register(into map[string]*funcInfo, ctxType reflect.Type, kind, name string, fn any) error {
	fi, err := inspectFunc(fn, ctxType, kind)
	if err != nil {
		return err
	}
	if name != "" {
		fi.name = name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	into[fi.name] = fi
	return nil
}

func (r *registry) workflow(name string) (*funcInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fi, ok := r.workflows[name]
	return fi, ok
}

func (r *registry) activity(name string) (*funcInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fi, ok := r.activities[name]
	return fi, ok
}

func (r *registry) workflowNames() string { return names(&r.mu, r.workflows) }
func (r *registry) activityNames() string { return names(&r.mu, r.activities) }

func names(mu *sync.RWMutex, m map[string]*funcInfo) string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// call decodes input, calls the function and encodes its result.
func (fi *funcInfo) call(ctx any, input json.RawMessage) (json.RawMessage, error) {
	args := []reflect.Value{reflect.ValueOf(ctx)}
	if fi.inType != nil {
		in := reflect.New(fi.inType)
		if len(input) > 0 && string(input) != "null" {
			if err := json.Unmarshal(input, in.Interface()); err != nil {
				return nil, NewApplicationError("BadInput", fmt.Sprintf("decoding input of %s into %s: %v", fi.name, fi.inType, err), true)
			}
		}
		args = append(args, in.Elem())
	}
	out := fi.fn.Call(args)
	if errV := out[len(out)-1]; !errV.IsNil() {
		return nil, errV.Interface().(error)
	}
	if !fi.hasResult {
		return nil, nil
	}
	b, err := json.Marshal(out[0].Interface())
	if err != nil {
		return nil, NewApplicationError("BadResult", fmt.Sprintf("encoding result of %s: %v", fi.name, err), true)
	}
	return b, nil
}
