package visibility

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/query"
)

// attrRegistry knows the type of every custom search attribute the index
// has seen: the first type seen for a name wins for the life of the index
// (values of another type are skipped), so a field keeps one kind and one
// meaning in queries. It is stored with every index batch that changes it.
type attrRegistry struct {
	mu     sync.RWMutex
	types  map[string]engine.SearchAttributeType
	schema query.Schema // rebuilt on change; what queries resolve names with
}

func newAttrRegistry() *attrRegistry {
	r := &attrRegistry{types: map[string]engine.SearchAttributeType{}}
	r.rebuild()
	return r
}

// kindOf is the query kind a search attribute type is indexed as.
func kindOf(t engine.SearchAttributeType) (query.Kind, bool) {
	switch t {
	case engine.AttrKeyword:
		return query.KindKeyword, true
	case engine.AttrText:
		return query.KindText, true
	case engine.AttrInt, engine.AttrFloat:
		return query.KindNumber, true
	case engine.AttrBool:
		return query.KindBool, true
	case engine.AttrTime:
		return query.KindTime, true
	}
	return 0, false
}

func (r *attrRegistry) rebuild() {
	kinds := make(map[string]query.Kind, len(r.types))
	for name, t := range r.types {
		if k, ok := kindOf(t); ok {
			kinds[name] = k
		}
	}
	r.schema = query.WithAttributes(query.Builtin(), kinds)
}

// Schema resolves field names for queries: built-in fields and every
// registered attribute.
func (r *attrRegistry) Schema() query.Schema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.schema
}

// typeOf returns the registered type of name.
func (r *attrRegistry) typeOf(name string) (engine.SearchAttributeType, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.types[name]
	return t, ok
}

// register records name's type unless it is known already, and reports
// whether it was added.
func (r *attrRegistry) register(name string, t engine.SearchAttributeType) bool {
	if _, ok := kindOf(t); !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.types[name]; ok {
		return false
	}
	r.types[name] = t
	r.rebuild()
	return true
}

// snapshot returns a copy of the name -> type table.
func (r *attrRegistry) snapshot() map[string]engine.SearchAttributeType {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return maps.Clone(r.types)
}

func (r *attrRegistry) marshal() []byte {
	b, _ := json.Marshal(r.snapshot()) // a map of strings cannot fail
	return b
}

// merge adds what a stored registry holds (each shard stores the registry
// as of its last batch; their union is the newest).
func (r *attrRegistry) merge(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var stored map[string]engine.SearchAttributeType
	if err := json.Unmarshal(data, &stored); err != nil {
		return fmt.Errorf("decoding the custom attribute registry: %w", err)
	}
	for name, t := range stored {
		r.register(name, t)
	}
	return nil
}

// attrValue converts a search attribute value as decoded from history JSON
// (strings, float64, bool) to the Go value its type is indexed as, or
// reports that it does not fit the type.
func attrValue(a engine.SearchAttribute) (any, bool) {
	switch a.Type {
	case engine.AttrKeyword, engine.AttrText:
		s, ok := a.Value.(string)
		return s, ok
	case engine.AttrInt, engine.AttrFloat:
		switch v := a.Value.(type) {
		case float64:
			return v, true
		case int64:
			return float64(v), true
		case int:
			return float64(v), true
		}
	case engine.AttrBool:
		b, ok := a.Value.(bool)
		return b, ok
	case engine.AttrTime:
		switch v := a.Value.(type) {
		case time.Time:
			return v.UTC(), true
		case string:
			t, err := time.Parse(time.RFC3339Nano, v)
			return t.UTC(), err == nil
		}
	}
	return nil, false
}
