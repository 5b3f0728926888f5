package query

import (
	"sort"
	"strings"

	"github.com/foremanhq/foreman/visibility/fields"
	"github.com/foremanhq/foreman/visibility/query/dialect"
)

// Kind is how a field is indexed, and so which comparisons it supports
// (declared with the field table, package fields).
type Kind = fields.Kind

// Field kinds, as package fields declares them. The zero Kind is invalid.
const (
	KindKeyword, KindText, KindNumber = fields.KindKeyword, fields.KindText, fields.KindNumber
	KindTime, KindBool                = fields.KindTime, fields.KindBool
)

// Field is an index field: its bleve path and kind.
type Field struct {
	Path string
	Kind Kind
}

// Schema resolves a name as written by a user (foreman name, Temporal name,
// custom attribute) to an index field.
type Schema interface {
	Lookup(name string) (Field, bool)
}

// Lister is implemented by schemas that can list the names they know; the
// parser uses it to suggest the closest names for an unknown one.
type Lister interface {
	Names() []string
}

// Defaulter is implemented by schemas that say which fields a bare term (a
// value without a field, bleve dialect) searches. Schemas without it get
// the built-in defaults: workflow_id, run_id and type exactly, and the
// built-in text fields as full text.
type Defaulter interface {
	DefaultFields() []Field
}

// AttrPath is the index path of custom search attribute name.
func AttrPath(name string) string { return attrPrefix + name }

const attrPrefix = "attr."

// defaultFields are searched by a bare term: the built-in fields the
// table marks Default (ids and type exactly, the text fields as full text).
var defaultFields = func() []Field {
	var out []Field
	for _, f := range fields.Builtin {
		if f.Default {
			out = append(out, Field{f.Name, f.Kind})
		}
	}
	return out
}()

type builtinSchema struct {
	byKey map[string]Field
	names []string
}

var theBuiltin = newBuiltin()

func newBuiltin() *builtinSchema {
	b := &builtinSchema{byKey: map[string]Field{}}
	for _, f := range fields.Builtin {
		field := Field{f.Name, f.Kind}
		b.byKey[fold(f.Name)] = field
		b.names = append(b.names, f.Name)
		for _, a := range f.Aliases {
			b.byKey[fold(a)] = field
			b.names = append(b.names, a)
		}
	}
	return b
}

// Builtin returns the built-in fields (the table fields.Builtin) under their foreman names
// (workflow_id) and Temporal names (WorkflowId). Names match ignoring case
// and underscores, so WorkflowID, workflowId and waitingOn all resolve.
// Custom attributes are added by WithAttributes.
func Builtin() Schema { return theBuiltin }

func (b *builtinSchema) Lookup(name string) (Field, bool) {
	f, ok := b.byKey[fold(name)]
	return f, ok
}

func (b *builtinSchema) Names() []string { return b.names }

func (b *builtinSchema) DefaultFields() []Field { return defaultFields }

// WithAttributes returns base extended with custom search attributes
// (name -> kind). An attribute answers to its bare name (CustomerId) and to
// attr.CustomerId; a built-in name wins over a bare attribute name. Bare
// names match exactly, or ignoring case and underscores when that is
// unambiguous. Text attributes join the fields a bare term searches.
func WithAttributes(base Schema, attrs map[string]Kind) Schema {
	s := &attrSchema{base: base, attrs: map[string]Kind{}, byKey: map[string][]string{}}
	for name, k := range attrs {
		s.attrs[name] = k
		key := fold(name)
		s.byKey[key] = append(s.byKey[key], name)
	}
	return s
}

type attrSchema struct {
	base  Schema
	attrs map[string]Kind
	byKey map[string][]string // folded name -> attribute names
}

func (s *attrSchema) Lookup(name string) (Field, bool) {
	if rest, ok := strings.CutPrefix(name, attrPrefix); ok {
		if k, ok := s.attrs[rest]; ok {
			return Field{AttrPath(rest), k}, true
		}
		if n, ok := s.unique(rest); ok {
			return Field{AttrPath(n), s.attrs[n]}, true
		}
	}
	if f, ok := s.base.Lookup(name); ok {
		return f, true
	}
	if k, ok := s.attrs[name]; ok {
		return Field{AttrPath(name), k}, true
	}
	if n, ok := s.unique(name); ok {
		return Field{AttrPath(n), s.attrs[n]}, true
	}
	return Field{}, false
}

func (s *attrSchema) unique(name string) (string, bool) {
	if ns := s.byKey[fold(name)]; len(ns) == 1 {
		return ns[0], true
	}
	return "", false
}

func (s *attrSchema) Names() []string {
	names := append([]string(nil), knownNames(s.base)...)
	var attrs []string
	for n := range s.attrs {
		attrs = append(attrs, n)
	}
	sort.Strings(attrs)
	return append(names, attrs...)
}

func (s *attrSchema) DefaultFields() []Field {
	fields := append([]Field(nil), defaultsOf(s.base)...)
	var text []string
	for n, k := range s.attrs {
		if k == KindText {
			text = append(text, n)
		}
	}
	sort.Strings(text)
	for _, n := range text {
		fields = append(fields, Field{AttrPath(n), KindText})
	}
	return fields
}

func knownNames(s Schema) []string {
	if l, ok := s.(Lister); ok {
		return l.Names()
	}
	return nil
}

func defaultsOf(s Schema) []Field {
	if d, ok := s.(Defaulter); ok {
		return d.DefaultFields()
	}
	return defaultFields
}

// fold is the key names are matched by (dialect.Fold).
func fold(name string) string { return dialect.Fold(name) }
