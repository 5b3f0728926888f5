package visibility

import (
	"hash/fnv"
	"strconv"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/document"
)

// A fingerprint changes with every value, numbers too (they once hashed
// their length twice, not their bits), and is FNV-1a of what was added.
func TestFingerprint(t *testing.T) {
	b, _ := newTestBuilder(t)
	fp := func(add func(w *fieldWriter)) string {
		w := &fieldWriter{b: b, doc: document.NewDocument("r"), h: fnvOffset}
		add(w)
		return w.fingerprint()
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		a, b func(w *fieldWriter)
	}{
		{"number", func(w *fieldWriter) { w.number("duration_ms", 1, false) }, func(w *fieldWriter) { w.number("duration_ms", 2, false) }},
		{"time", func(w *fieldWriter) { w.time("start_time", at) }, func(w *fieldWriter) { w.time("start_time", at.Add(time.Nanosecond)) }},
		{"keyword", func(w *fieldWriter) { w.keyword("status", "running") }, func(w *fieldWriter) { w.keyword("status", "failed") }},
		{"path", func(w *fieldWriter) { w.keyword("status", "x") }, func(w *fieldWriter) { w.keyword("type", "x") }},
		{"boolean", func(w *fieldWriter) { w.boolean("attr.Vip", true) }, func(w *fieldWriter) { w.boolean("attr.Vip", false) }},
	} {
		if fp(c.a) == fp(c.b) {
			t.Errorf("%s: two values, one fingerprint %s", c.name, fp(c.a))
		}
	}
	h := fnv.New64a()
	h.Write([]byte("status\x00k\x07\x00\x00\x00\x00\x00\x00\x00running"))
	if got, want := fp(func(w *fieldWriter) { w.keyword("status", "running") }), strconv.FormatUint(h.Sum64(), 16); got != want {
		t.Errorf("fingerprint %s, want FNV-1a %s", got, want)
	}
}
