package query

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Expected bleve queries are written with these helpers and compared with
// the produced query as decoded JSON (nulls dropped), so a test states the
// structure a reader can check against bleve's query types.

var testNow = time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)

// testSchema is the built-ins plus custom attributes of every kind.
func testSchema() Schema {
	return WithAttributes(Builtin(), map[string]Kind{
		"CustomerId": KindKeyword,
		"Region":     KindKeyword,
		"Notes":      KindText,
		"Amount":     KindNumber,
		"Vip":        KindBool,
		"DueAt":      KindTime,
	})
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func term(f, v string) string { return js(map[string]any{"term": v, "field": f}) }
func phrase(f, v string) string {
	return js(map[string]any{"match_phrase": v, "field": f, "fuzziness": 0})
}
func prefixQ(f, v string) string {
	return js(map[string]any{"prefix": v, "field": f})
}
func wildcard(f, v string) string { return js(map[string]any{"wildcard": v, "field": f}) }
func regexpQ(f, v string) string  { return js(map[string]any{"regexp": v, "field": f}) }
func boolQ(f string, v bool) string {
	return js(map[string]any{"bool": v, "field": f})
}

func conj(qs ...string) string { return `{"conjuncts":[` + strings.Join(qs, ",") + `]}` }
func disj(qs ...string) string { return `{"disjuncts":[` + strings.Join(qs, ",") + `],"min":0}` }

// notQ is match_all minus the queries.
func notQ(qs ...string) string { return andNot(nil, qs...) }

// andNot is all of must and none of mustNot.
func andNot(must []string, mustNot ...string) string {
	if len(must) == 0 {
		must = []string{`{"match_all":{}}`}
	}
	return `{"must":` + conj(must...) + `,"must_not":` + disj(mustNot...) + `}`
}

// rng builds a numeric (float64 ends), date (time.Time ends) or term
// (string ends) range; a nil end is open.
func rng(f string, lo any, loIncl bool, hi any, hiIncl bool) string {
	m := map[string]any{"field": f}
	kind := ""
	for _, e := range []struct {
		v          any
		incl       bool
		name, incN string
	}{{lo, loIncl, "min", "inclusive_min"}, {hi, hiIncl, "max", "inclusive_max"}} {
		switch v := e.v.(type) {
		case nil:
			continue
		case float64:
			kind = "num"
			m[e.name] = v
		case int:
			kind = "num"
			m[e.name] = float64(v)
		case time.Time:
			kind = "date"
			m[e.name] = v.UTC().Format(time.RFC3339)
		case string:
			kind = "term"
			m[e.name] = v
		}
		m[e.incN] = e.incl
	}
	if kind == "date" {
		for _, r := range [][2]string{{"min", "start"}, {"max", "end"}, {"inclusive_min", "inclusive_start"}, {"inclusive_max", "inclusive_end"}} {
			if v, ok := m[r[0]]; ok {
				m[r[1]] = v
				delete(m, r[0])
			}
		}
		if _, ok := m["start"]; !ok {
			m["start"] = "0001-01-01T00:00:00Z"
		}
		if _, ok := m["end"]; !ok {
			m["end"] = "0001-01-01T00:00:00Z"
		}
	}
	return js(m)
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// normalize decodes JSON and drops null members, so optional fields
// (boost) do not matter.
func normalize(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return dropNulls(v)
}

func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNulls(e)
		}
	case []any:
		for i := range x {
			x[i] = dropNulls(x[i])
		}
	}
	return v
}

// mustParse parses q with the test schema and returns its JSON.
func mustParse(t *testing.T, q string) string {
	t.Helper()
	got, err := Parse(q, testSchema(), testNow)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	return js(got)
}

func checkQuery(t *testing.T, q, want string) {
	t.Helper()
	parsed, err := Parse(q, testSchema(), testNow)
	if err != nil {
		t.Errorf("Parse(%q): %v", q, err)
		return
	}
	got := js(parsed)
	if !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
		t.Errorf("Parse(%q)\n got: %s\nwant: %s", q, got, want)
	}
}

var _ = fmt.Sprint
