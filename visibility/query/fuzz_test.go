package query

import (
	"encoding/json"
	"errors"
	"testing"

	bq "github.com/blevesearch/bleve/v2/search/query"
)

var fuzzSeeds = []string{
	``, `status:running type:Order "card declined"`, `start_time:>"2026-11-01"`,
	`+status:failed -type:Order`, `workflow_id:*-42*`, `workflow_id:order-*`,
	`failure:"card declined" approval_since:<now-24h`, `duration_ms:[1s TO 5m}`,
	`type:(A OR B) NOT status:failed`, `failure:decl~1^2`, `workflow_id:/o.*r/`,
	`a\ b\* "x\"y"`, `Vip:true Amount:>=5 DueAt:<now+1d`, `((((a))))`, `close_time:*`,
	`WorkflowType = 'Order' AND ExecutionStatus = 'Running' AND StartTime > '2026-11-01T00:00:00Z'`,
	`ExecutionStatus IN ('Failed', 'Terminated') ORDER BY StartTime DESC, WorkflowId`,
	`HistoryLength BETWEEN 1 AND 10 OR NOT (CloseTime IS NULL)`,
	`WorkflowId STARTS_WITH 'order-' AND WorkflowId NOT LIKE '%\_x%'`,
	`Failure CONTAINS 'card declined' AND ExecutionDuration > '1h'`,
	"`CustomerId` = 'it''s' AND Vip != false", `StartTime > now-1d`,
	`ORDER BY StartTime`, `x = `, `WorkflowId IN (`, `status:`, `"unterminated`,
	`'unterminated`, `NOT NOT NOT`, `a OR OR b`, `[1 TO 2]`, `field:>`, `\`, "\xff\xfe",
	`start_time:<=9999-12-31`, `duration_ms:>99999999999999999999w`,
}

// FuzzParse: no input panics either parser; an error is an *Error with a
// position inside the query; a query that parses is one bleve accepts.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	schema := testSchema()
	f.Fuzz(func(t *testing.T, q string) {
		for _, d := range []Dialect{Detect(q, schema), QueryString, Temporal} {
			parsed, sort, err := ParseDialect(d, q, schema, testNow)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%v %q: error %T %v is not an *Error", d, q, err, err)
				}
				if e.Pos < 0 || e.Pos > len(q) || e.Msg == "" {
					t.Fatalf("%v %q: bad error %#v", d, q, e)
				}
				continue
			}
			if parsed == nil {
				t.Fatalf("%v %q: nil query without an error", d, q)
			}
			if d == QueryString && sort != nil {
				t.Fatalf("%v %q: sort %q from the query string", d, q, sort)
			}
			if v, ok := parsed.(bq.ValidatableQuery); ok {
				if err := v.Validate(); err != nil {
					t.Fatalf("%v %q: invalid bleve query: %v", d, q, err)
				}
			}
			if _, err := json.Marshal(parsed); err != nil {
				t.Fatalf("%v %q: query does not marshal: %v", d, q, err)
			}
		}
	})
}
