package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	bq "github.com/blevesearch/bleve/v2/search/query"
)

func TestDetect(t *testing.T) {
	cases := []struct {
		q    string
		want Dialect
	}{
		{``, QueryString},
		{`status:running`, QueryString},
		{`"card declined"`, QueryString},
		{`-type:Order`, QueryString},
		{`(status:running OR status:failed)`, QueryString},
		{`NOT status:failed`, QueryString},
		{`order-42`, QueryString},
		{`card is declined`, QueryString},                    // lower-case word operator, unknown name
		{`payment in progress`, QueryString},                 // idem
		{`status:running AND WorkflowId = 'x'`, QueryString}, // decided at the start
		{`WorkflowId:x`, QueryString},
		{`WorkflowId = 'x'`, Temporal},
		{`WorkflowId='x'`, Temporal},
		{`  ( ( NOT WorkflowId = 'x'))`, Temporal},
		{`not(WorkflowId = 'x')`, Temporal},
		{`HistoryLength>5`, Temporal},
		{`HistoryLength >= 5`, Temporal},
		{`WorkflowId != 'x'`, Temporal},
		{`WorkflowId <> 'x'`, Temporal},
		{`unknown = 'x'`, Temporal}, // then an unknown-field error
		{`ExecutionStatus IN ('Running')`, Temporal},
		{`ExecutionStatus in ('Running')`, Temporal}, // known field: any case
		{`Payment IN ('x')`, Temporal},               // upper case: always
		{`Payment in progress`, QueryString},
		{"`Payment` in ('x')", Temporal},
		{`WorkflowId STARTS_WITH 'a'`, Temporal},
		{`CloseTime IS NULL`, Temporal},
		{`close_time is null`, Temporal},
		{`WorkflowId NOT LIKE 'a%'`, Temporal},
		{`ORDER BY StartTime`, Temporal},
		{`order by StartTime`, Temporal},
		{`orders`, QueryString},
		{`order`, QueryString},
	}
	for _, c := range cases {
		if got := Detect(c.q, testSchema()); got != c.want {
			t.Errorf("Detect(%q) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestParseDialect(t *testing.T) {
	// Forced dialects: the same text means different things.
	q, _, err := ParseDialect(QueryString, `WorkflowId`, testSchema(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got := js(q); !reflect.DeepEqual(normalize(t, got), normalize(t, defaults("WorkflowId"))) {
		t.Errorf("query string: %s", got)
	}
	_, _, err = ParseDialect(Temporal, `WorkflowId`, testSchema(), testNow)
	var e *Error
	if !errors.As(err, &e) || e.Pos != 10 || !strings.Contains(e.Msg, "expected an operator") {
		t.Errorf("temporal: %v", err)
	}
	if _, _, err := ParseDialect(Dialect(0), `x`, testSchema(), testNow); err == nil {
		t.Error("dialect 0 accepted")
	}
}

// TestNilErrorIsNil guards against a typed nil *Error in the error result.
func TestNilErrorIsNil(t *testing.T) {
	for _, q := range []string{``, `status:running`, `ExecutionStatus = 'Running'`} {
		if _, err := Parse(q, Builtin(), testNow); err != nil {
			t.Errorf("Parse(%q) error %#v", q, err)
		}
	}
}

// TestZeroNowIsNow: a zero now means the current time.
func TestZeroNowIsNow(t *testing.T) {
	q, err := Parse(`start_time:>now-1h`, Builtin(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	start := q.(*bq.DateRangeQuery).Start.Time
	if d := time.Since(start); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("now-1h = %v, %v ago", start, d)
	}
}

// TestQueriesValidate: every produced query passes bleve's own validation
// (a query bleve would refuse at search time is a parser bug).
func TestQueriesValidate(t *testing.T) {
	for _, q := range []string{
		`close_time:*`, `-close_time:*`, `progress_pct:[* TO *]`, `workflow_id:[* TO *]`,
		`start_time:[* TO now]`, `Vip:*`, `CloseTime IS NULL`, `HistoryLength IS NOT NULL`,
		`workflow_id:/a.*/`, `failure:decl*`, `ExecutionStatus IN ('Running','Failed')`,
		`status:running type:Order "card declined" -waiting_on:approval`,
	} {
		parsed, err := Parse(q, testSchema(), testNow)
		if err != nil {
			t.Errorf("Parse(%q): %v", q, err)
			continue
		}
		if v, ok := parsed.(bq.ValidatableQuery); ok {
			if err := v.Validate(); err != nil {
				t.Errorf("Parse(%q) builds an invalid query %s: %v", q, js(parsed), err)
			}
		}
		// And the JSON form reads back into a bleve query.
		if _, err := bq.ParseQuery([]byte(js(parsed))); err != nil {
			t.Errorf("Parse(%q): JSON does not read back: %v", q, err)
		}
	}
}
