package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

// Tables print durations in human units ("9m0s"), not the nanoseconds
// their JSON carries (JSON output keeps nanoseconds: its consumers parse
// it and its field names and types stay as they are).

var (
	durationType  = reflect.TypeFor[time.Duration]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
)

// humanFields returns a struct (or pointer to one) as its JSON fields, with
// every time.Duration in it, nested ones included, as a duration string.
// ok is false for anything else.
func humanFields(v any) (map[string]any, bool) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct || ownJSON(rv.Type()) {
		return nil, false
	}
	return structFields(rv), true
}

// ownJSON: the type marshals itself; its JSON is left alone.
func ownJSON(t reflect.Type) bool {
	return t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType)
}

// humanize is v as encoding/json would see it, with durations as strings.
// Structs without a duration inside are returned as they are, so their
// JSON (field order included) does not change.
func humanize(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Kind() != reflect.Struct || ownJSON(v.Type()) || !hasDuration(v.Type(), 0):
		return v.Interface()
	}
	return structFields(v)
}

// structFields lists a struct's JSON fields, durations humanized.
func structFields(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if name == "" && f.Anonymous && reflect.Indirect(fv).Kind() == reflect.Struct {
			if fv.Kind() == reflect.Pointer && fv.IsNil() {
				continue
			}
			for k, x := range structFields(reflect.Indirect(fv)) { // embedded: its fields are promoted
				out[k] = x
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.Contains(opts, "omitempty") && emptyJSON(fv) {
			continue
		}
		out[name] = humanize(fv)
	}
	return out
}

// emptyJSON is encoding/json's omitempty test.
func emptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.Array, reflect.String:
		return v.Len() == 0
	}
	return v.IsZero()
}

// hasDuration tells whether a struct holds a time.Duration, directly or in
// a nested struct (depth-limited against recursive types).
func hasDuration(t reflect.Type, depth int) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return true
	}
	if t.Kind() != reflect.Struct || depth > 4 || ownJSON(t) {
		return false
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && hasDuration(f.Type, depth+1) {
			return true
		}
	}
	return false
}
