package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// A single-pass JSON decoder for history batches (DecodeBatch). encoding/json
// scans a value twice (once to validate it, once to decode it), and a
// batch's layout (attributes kept raw until the event type is known) makes
// that four scans or more of every attribute byte; decoding was a sixth of
// the search indexer's CPU time. This decoder reads each byte once, into the same Go
// types, by their json tags. It handles what history is made of (structs,
// strings, numbers, bools, times, raw JSON, base64 bytes, pointers, slices,
// string-keyed maps, and any) and refuses everything else, as it refuses
// JSON it is not sure to read exactly as encoding/json does (a key that
// names no field by its exact tag, escaped or invalid UTF-8 text it does
// not decode itself): the caller then decodes with encoding/json. So it
// never decodes differently, only sometimes not at all; a test compares
// both over every event type and a fuzz test over arbitrary input.

var errFallback = errors.New("not decodable by the fast path")

type jsonDecoder struct {
	data []byte
	pos  int
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte (0 at the end).
func (d *jsonDecoder) peek() byte {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

func (d *jsonDecoder) expect(c byte) error {
	if d.peek() != c {
		return errFallback
	}
	d.pos++
	return nil
}

// literal consumes null, true or false.
func (d *jsonDecoder) literal(lit string) bool {
	if d.peek() == lit[0] && strings.HasPrefix(string(d.data[d.pos:min(len(d.data), d.pos+len(lit))]), lit) {
		d.pos += len(lit)
		return true
	}
	return false
}

// stringToken consumes a string and returns it with its quotes, and
// whether it holds escapes or non-ASCII bytes.
func (d *jsonDecoder) stringToken() (tok []byte, plain bool, err error) {
	if d.peek() != '"' {
		return nil, false, errFallback
	}
	start := d.pos
	plain = true
	for i := start + 1; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return d.data[start:d.pos], plain, nil
		case c == '\\':
			plain = false
			i++
			if i >= len(d.data) {
				return nil, false, errFallback
			}
			switch d.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d.data) {
					return nil, false, errFallback
				}
				for _, h := range d.data[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, false, errFallback
					}
				}
				i += 4
			default:
				return nil, false, errFallback
			}
		case c < 0x20:
			return nil, false, errFallback
		case c >= 0x80:
			plain = false
		}
	}
	return nil, false, errFallback
}

// time decodes a time into tm (through its pointer: boxing a time.Time
// into a reflect.Value costs an allocation per event).
func (d *jsonDecoder) time(tm *time.Time) error {
	tok, _, err := d.stringToken()
	if err != nil {
		return err
	}
	if err := tm.UnmarshalJSON(tok); err != nil {
		return errFallback
	}
	return nil
}

// interned decodes a string value; one found in known is returned as
// known's own copy, which saves an allocation per event for the names
// every event repeats (its type, its batch's kind).
func (d *jsonDecoder) interned(known map[string]string) (string, error) {
	tok, plain, err := d.stringToken()
	if err != nil {
		return "", err
	}
	if !plain {
		return unquote(tok)
	}
	if s, ok := known[string(tok[1:len(tok)-1])]; ok {
		return s, nil
	}
	return string(tok[1 : len(tok)-1]), nil
}

// str decodes a string value.
func (d *jsonDecoder) str() (string, error) {
	tok, plain, err := d.stringToken()
	if err != nil {
		return "", err
	}
	if plain {
		return string(tok[1 : len(tok)-1]), nil
	}
	return unquote(tok)
}

// unquote decodes a string token that may hold escapes or non-ASCII text.
func unquote(tok []byte) (string, error) {
	inner := tok[1 : len(tok)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", errFallback
	}
	return s, nil
}

// number consumes a number (JSON grammar) and returns its text.
func (d *jsonDecoder) number() ([]byte, error) {
	d.skipSpace()
	start, i, n := d.pos, d.pos, len(d.data)
	digits := func() int {
		j := i
		for i < n && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < n && d.data[i] == '-' {
		i++
	}
	if i < n && d.data[i] == '0' {
		i++
	} else if digits() == 0 {
		return nil, errFallback
	}
	if i < n && d.data[i] == '.' {
		i++
		if digits() == 0 {
			return nil, errFallback
		}
	}
	if i < n && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < n && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, errFallback
		}
	}
	d.pos = i
	return d.data[start:i], nil
}

// skip consumes any value, checking its syntax.
func (d *jsonDecoder) skip() error {
	switch c := d.peek(); c {
	case '"':
		_, _, err := d.stringToken()
		return err
	case '{':
		return d.object(func([]byte) error { return d.skip() })
	case '[':
		return d.array(d.skip)
	case 't':
		if d.literal("true") {
			return nil
		}
	case 'f':
		if d.literal("false") {
			return nil
		}
	case 'n':
		if d.literal("null") {
			return nil
		}
	default:
		_, err := d.number()
		return err
	}
	return errFallback
}

// object calls field for each key of an object, positioned at its value.
func (d *jsonDecoder) object(field func(key []byte) error) error {
	return d.sequence('{', '}', func() error {
		tok, plain, err := d.stringToken()
		if err != nil {
			return err
		}
		key := tok[1 : len(tok)-1]
		if !plain {
			s, err := unquote(tok)
			if err != nil {
				return err
			}
			key = []byte(s)
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		return field(key)
	})
}

// array calls elem for each element of an array.
func (d *jsonDecoder) array(elem func() error) error { return d.sequence('[', ']', elem) }

// sequence reads open, items separated by commas, and closing.
func (d *jsonDecoder) sequence(open, closing byte, item func() error) error {
	if err := d.expect(open); err != nil {
		return err
	}
	if d.peek() == closing {
		d.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if d.peek() == ',' {
			d.pos++
			continue
		}
		return d.expect(closing)
	}
}

// end checks that nothing but space follows the value.
func (d *jsonDecoder) end() error {
	if d.peek() != 0 || d.pos != len(d.data) {
		return errFallback
	}
	return nil
}

var (
	typeTime    = reflect.TypeFor[time.Time]()
	typeRaw     = reflect.TypeFor[json.RawMessage]()
	typeBytes   = reflect.TypeFor[[]byte]()
	structPlans sync.Map // reflect.Type -> *structPlan
)

// structPlan maps a struct's json keys to its fields (nil: a struct this
// decoder leaves to encoding/json).
type structPlan struct {
	fields map[string]int
}

func planOf(t reflect.Type) *structPlan {
	if p, ok := structPlans.Load(t); ok {
		return p.(*structPlan)
	}
	p := &structPlan{fields: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case f.Anonymous || (opts != "" && opts != "omitempty" && opts != "omitzero" && opts != "omitempty,omitzero"):
			p = nil // embedding and ",string": encoding/json's rules
		case !f.IsExported() || tag == "-":
			continue
		case name == "":
			name = f.Name
		}
		if p == nil {
			break
		}
		p.fields[name] = i
	}
	structPlans.Store(t, p)
	return p
}

// value decodes the next value into v (settable), as encoding/json would.
func (d *jsonDecoder) value(v reflect.Value) error {
	t := v.Type()
	switch t {
	case typeTime:
		return d.time(v.Addr().Interface().(*time.Time))
	case typeRaw:
		d.skipSpace()
		start := d.pos
		if err := d.skip(); err != nil {
			return err
		}
		v.SetBytes(bytes.Clone(d.data[start:d.pos]))
		return nil
	case typeBytes:
		if d.literal("null") {
			v.SetZero()
			return nil
		}
		s, err := d.str()
		if err != nil {
			return err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return errFallback
		}
		v.SetBytes(b)
		return nil
	}
	if d.peek() == 'n' && d.literal("null") {
		// encoding/json: null zeroes pointers, slices, maps and interfaces,
		// and leaves anything else as it is.
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			v.SetZero()
		}
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		s, err := d.str()
		if err != nil {
			return err
		}
		v.SetString(s)
	case reflect.Bool:
		switch {
		case d.literal("true"):
			v.SetBool(true)
		case d.literal("false"):
			v.SetBool(false)
		default:
			return errFallback
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		num, err := d.number()
		if err != nil {
			return err
		}
		return setNumber(v, string(num))
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.value(v.Elem())
	case reflect.Struct:
		p := planOf(t)
		if p == nil {
			return errFallback
		}
		return d.object(func(key []byte) error {
			i, ok := p.fields[string(key)]
			if !ok {
				return errFallback
			}
			return d.value(v.Field(i))
		})
	case reflect.Slice:
		s := reflect.MakeSlice(t, 0, 0)
		err := d.array(func() error {
			s = reflect.Append(s, reflect.Zero(t.Elem()))
			return d.value(s.Index(s.Len() - 1))
		})
		if err != nil {
			return err
		}
		v.Set(s)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return errFallback
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		return d.object(func(key []byte) error {
			e := reflect.New(t.Elem()).Elem()
			if err := d.value(e); err != nil {
				return err
			}
			v.SetMapIndex(reflect.ValueOf(string(key)).Convert(t.Key()), e)
			return nil
		})
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return errFallback
		}
		x, err := d.any()
		if err != nil {
			return err
		}
		if x == nil {
			v.SetZero()
		} else {
			v.Set(reflect.ValueOf(x))
		}
	default:
		return errFallback
	}
	return nil
}

// setNumber sets a numeric v from a JSON number's text; a number v cannot
// hold (a fraction in an integer, out of range) falls back, and
// encoding/json reports it.
func setNumber(v reflect.Value, num string) error {
	bits := v.Type().Bits()
	var err error
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		var f float64
		f, err = strconv.ParseFloat(num, bits)
		v.SetFloat(f)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var n uint64
		n, err = strconv.ParseUint(num, 10, bits)
		v.SetUint(n)
	default:
		var n int64
		n, err = strconv.ParseInt(num, 10, bits)
		v.SetInt(n)
	}
	if err != nil {
		return errFallback
	}
	return nil
}

// any decodes a value into what encoding/json puts in an interface{}.
func (d *jsonDecoder) any() (any, error) {
	switch d.peek() {
	case '"':
		return d.str()
	case '{':
		m := map[string]any{}
		err := d.object(func(key []byte) error {
			x, err := d.any()
			m[string(key)] = x
			return err
		})
		return m, err
	case '[':
		s := []any{}
		err := d.array(func() error {
			x, err := d.any()
			s = append(s, x)
			return err
		})
		return s, err
	case 't', 'f':
		if d.literal("true") {
			return true, nil
		}
		if d.literal("false") {
			return false, nil
		}
	case 'n':
		if d.literal("null") {
			return nil, nil
		}
	default:
		num, err := d.number()
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return nil, errFallback
		}
		return f, nil
	}
	return nil, errFallback
}
