package visibility

import (
	"encoding/json"
	"unicode/utf8"
)

// payloadText is what full-text search reads of a JSON payload (a run's
// input or result, a signal's payload): its values, strings unescaped,
// numbers and booleans as written, one per line, and not its keys, as
// Elasticsearch indexes objects. Keys are the same in every run of a
// workflow type: they told searches nothing and cost a posting each in
// every document (a thirteenth of a typical run's). A payload that is not
// valid JSON is read as plain text. Values are kept while they fit in max
// bytes.
func payloadText(raw []byte, max int) string {
	if len(raw) == 0 {
		return ""
	}
	if !json.Valid(raw) {
		return clip(string(raw), max)
	}
	out := make([]byte, 0, min(len(raw), max))
	full := false
	add := func(v []byte) {
		sep := min(len(out), 1)
		if len(out)+sep+len(v) > max {
			full = true
			return
		}
		if sep > 0 {
			out = append(out, '\n')
		}
		out = append(out, v...)
	}
	var objects []bool // the open containers, innermost last: true for an object
	key := false       // the next string is an object's key
	for i := 0; i < len(raw) && !full; {
		switch c := raw[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '{', '[':
			objects = append(objects, c == '{')
			key = c == '{'
			i++
		case '}', ']':
			objects = objects[:len(objects)-1]
			key = false
			i++
		case ':':
			key = false
			i++
		case ',':
			key = objects[len(objects)-1]
			i++
		case '"':
			end, escaped := stringEnd(raw, i+1)
			if !key {
				v := raw[i+1 : end]
				if escaped || !utf8.Valid(v) {
					var s string
					_ = json.Unmarshal(raw[i:end+1], &s) // cannot fail: raw is valid (bad UTF-8 becomes U+FFFD)
					v = []byte(s)
				}
				add(v)
			}
			i = end + 1
		default: // a number, true, false or null
			j := i + 1
			for j < len(raw) && !endsLiteral(raw[j]) {
				j++
			}
			if v := raw[i:j]; string(v) != "null" {
				add(v)
			}
			i = j
		}
	}
	return string(out)
}

// stringEnd is the index of the quote closing the JSON string whose body
// starts at i, and whether the body holds escapes.
func stringEnd(raw []byte, i int) (end int, escaped bool) {
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i, escaped
		}
	}
	return len(raw), escaped
}

// endsLiteral: c ends a JSON number or literal.
func endsLiteral(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ']', '}':
		return true
	}
	return false
}
