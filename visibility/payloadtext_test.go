package visibility

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"testing"
)

func TestPayloadText(t *testing.T) {
	for _, c := range []struct {
		name, raw, want string
		max             int
	}{
		{"object values, not keys", `{"order_id":"0001234","customer":"cust-01234","amount":12.5,"rush":true,"note":null}`,
			"0001234\ncust-01234\n12.5\ntrue", 0},
		{"nested arrays and objects", `{"items":[{"sku":"SKU-1","qty":2},{"sku":"SKU-2","qty":1}],"tags":["a","b"]}`,
			"SKU-1\n2\nSKU-2\n1\na\nb", 0},
		{"a key whose value is an object", `{"ship":{"to":{"city":"Lyon"}},"after":"x"}`, "Lyon\nx", 0},
		{"escapes are undone", `{"memo":"say \"hi\"\n\u00e9t\u00e9 \\ done"}`, "say \"hi\"\nété \\ done", 0},
		{"a key holding a quote and colon", `{"a\":b":"v"}`, "v", 0},
		{"a bare string", `"card declined"`, "card declined", 0},
		{"a bare number with spaces", ` -1.5e3 `, "-1.5e3", 0},
		{"empty object and array", `{"a":{},"b":[],"c":"x"}`, "x", 0},
		{"not JSON: plain text", `card declined {`, "card declined {", 0},
		{"values kept while they fit", `["aaaa","bbbb","cc"]`, "aaaa\nbbbb", 10},
		{"the first value does not fit", `["aaaaaaaaaaaa"]`, "", 10},
		{"empty", ``, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			max := c.max
			if max == 0 {
				max = maxTextBytes
			}
			if got := payloadText([]byte(c.raw), max); got != c.want {
				t.Fatalf("payloadText(%s) = %q, want %q", c.raw, got, c.want)
			}
		})
	}
}

// FuzzPayloadText checks payloadText against a reference built on
// encoding/json's tokenizer, and that no payload makes it panic.
func FuzzPayloadText(f *testing.F) {
	for _, s := range []string{`{"a":"b","c":[1,2,{"d":null}]}`, `"x"`, `[`, `{"\"":"\\"}`, ``, `[true,false,-0.5e+2]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := payloadText(raw, 64)
		if len(got) > 64 {
			t.Fatalf("%d bytes of text, max 64", len(got))
		}
		if !json.Valid(raw) {
			return
		}
		if want := referencePayloadText(t, raw, 64); got != want {
			t.Fatalf("payloadText(%s) = %q, reference %q", raw, got, want)
		}
	})
}

// referencePayloadText is payloadText by encoding/json's tokens.
func referencePayloadText(t *testing.T, raw []byte, max int) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var vals []string
	var objects []bool // open containers: true for an object
	var keyNext []bool // per open object: its next string is a key
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("valid JSON %s: %v", raw, err)
		}
		isKey := len(objects) > 0 && objects[len(objects)-1] && keyNext[len(keyNext)-1]
		if len(objects) > 0 && objects[len(objects)-1] {
			keyNext[len(keyNext)-1] = !keyNext[len(keyNext)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				objects = append(objects, v == '{')
				keyNext = append(keyNext, true)
			default:
				objects, keyNext = objects[:len(objects)-1], keyNext[:len(keyNext)-1]
				if len(objects) > 0 && objects[len(objects)-1] {
					keyNext[len(keyNext)-1] = true // a closed value: the next string is a key
				}
			}
			continue
		case string:
			if !isKey {
				vals = append(vals, v)
			}
		case json.Number:
			vals = append(vals, v.String())
		case bool:
			vals = append(vals, strconv.FormatBool(v))
		}
	}
	out := ""
	for _, v := range vals {
		next := v
		if out != "" {
			next = out + "\n" + v
		}
		if len(next) > max {
			break
		}
		out = next
	}
	return out
}
