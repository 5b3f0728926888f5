package query

import (
	"reflect"
	"testing"
	"time"
)

func TestTemporal(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct{ q, want string }{
		{`WorkflowType = 'Order' AND ExecutionStatus = 'Running' AND StartTime > '2026-11-01T00:00:00Z'`,
			conj(term("type", "Order"), term("execution_status", "running"), rng("start_time", date("2026-11-01T00:00:00Z"), false, nil, false))},
		{`WorkflowId = "order-42"`, term("workflow_id", "order-42")},
		{`WorkflowId == 'order-42'`, term("workflow_id", "order-42")},
		{`WorkflowId='it''s'`, term("workflow_id", "it's")},
		{`WorkflowId = 'it\'s'`, term("workflow_id", "it's")},
		{`RunId = 'r1'`, term("run_id", "r1")},
		{`TaskQueue = 'orders'`, term("task_queue", "orders")},
		{`ExecutionStatus = 'ContinuedAsNew'`, term("execution_status", "continued_as_new")},
		{`ExecutionStatus = Running`, term("execution_status", "running")},
		{`status = 'failed'`, term("status", "failed")},
		{`ExecutionStatus != 'Running'`, notQ(term("execution_status", "running"))},
		{`ExecutionStatus <> 'Running'`, notQ(term("execution_status", "running"))},
		// Boolean structure and precedence.
		{`WorkflowType = 'A' OR WorkflowType = 'B' AND ExecutionStatus = 'Failed'`,
			disj(term("type", "A"), conj(term("type", "B"), term("execution_status", "failed")))},
		{`(WorkflowType = 'A' OR WorkflowType = 'B') AND ExecutionStatus = 'Failed'`,
			conj(disj(term("type", "A"), term("type", "B")), term("execution_status", "failed"))},
		{`WorkflowType = 'A' and not ExecutionStatus = 'Failed'`,
			andNot([]string{term("type", "A")}, term("execution_status", "failed"))},
		{`NOT (ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated')`,
			notQ(term("execution_status", "failed"), term("execution_status", "terminated"))},
		{`NOT NOT ExecutionStatus = 'Failed'`, term("execution_status", "failed")},
		// IN, BETWEEN.
		{`ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')`,
			disj(term("execution_status", "failed"), term("execution_status", "terminated"), term("execution_status", "timed_out"))},
		{`ExecutionStatus NOT IN ('Failed')`, notQ(term("execution_status", "failed"))},
		{`WorkflowType = 'Order' AND ExecutionStatus NOT IN ('Failed','Terminated')`,
			andNot([]string{term("type", "Order")}, term("execution_status", "failed"), term("execution_status", "terminated"))},
		{`HistoryLength IN (1, 2)`, disj(rng("history_length", 1, true, 1, true), rng("history_length", 2, true, 2, true))},
		{`HistoryLength BETWEEN 10 AND 20`, rng("history_length", 10, true, 20, true)},
		{`HistoryLength NOT BETWEEN 10 AND 20`, notQ(rng("history_length", 10, true, 20, true))},
		{`StartTime BETWEEN '2026-11-01' AND '2026-11-02T00:00:00Z'`,
			rng("start_time", date("2026-11-01T00:00:00Z"), true, date("2026-11-02T00:00:00Z"), true)},
		{`WorkflowId BETWEEN 'a' AND 'm'`, rng("workflow_id", "a", true, "m", true)},
		// Comparisons by kind.
		{`HistoryLength > 10`, rng("history_length", 10, false, nil, false)},
		{`HistoryLength >= 10`, rng("history_length", 10, true, nil, false)},
		{`HistoryLength < 10`, rng("history_length", nil, false, 10, false)},
		{`HistoryLength <= 10`, rng("history_length", nil, false, 10, true)},
		{`HistoryLength = 10`, rng("history_length", 10, true, 10, true)},
		{`ExecutionDuration > '1h30m'`, rng("duration_ms", 5400000, false, nil, false)},
		{`ExecutionDuration > 5000`, rng("duration_ms", 5000, false, nil, false)},
		{`StartTime > now-24h`, rng("start_time", testNow.Add(-day), false, nil, false)},
		{`StartTime > 'now-1d'`, rng("start_time", testNow.Add(-day), false, nil, false)},
		{`ExecutionTime < '2026-11-01'`, rng("start_time", nil, false, date("2026-11-01T00:00:00Z"), false)},
		{`CloseTime = '2026-11-01'`, rng("close_time", date("2026-11-01T00:00:00Z"), true, date("2026-11-02T00:00:00Z"), false)},
		{`approval_since < now-24h`, rng("approval_since", nil, false, testNow.Add(-day), false)},
		// Prefix, substring, LIKE.
		{`WorkflowId STARTS_WITH 'order-'`, prefixQ("workflow_id", "order-")},
		{`WorkflowId NOT STARTS_WITH 'order-'`, notQ(prefixQ("workflow_id", "order-"))},
		{`WorkflowId CONTAINS '-42'`, wildcard("workflow_id", "*-42*")},
		{`WorkflowId CONTAINS 'a*b'`, regexpQ("workflow_id", `.*a\*b.*`)},
		{`WorkflowId LIKE '%-42%'`, wildcard("workflow_id", "*-42*")},
		{`WorkflowId LIKE 'order-%'`, prefixQ("workflow_id", "order-")},
		{`WorkflowId LIKE 'order-_2'`, wildcard("workflow_id", "order-?2")},
		{`WorkflowId LIKE 'order\_1'`, term("workflow_id", "order_1")},
		{`WorkflowId NOT LIKE 'order-%'`, notQ(prefixQ("workflow_id", "order-"))},
		// Text fields: phrases.
		{`Failure = 'card declined'`, phrase("failure", "card declined")},
		{`failure CONTAINS 'card declined'`, phrase("failure", "card declined")},
		{`Failure LIKE '%card declined%'`, phrase("failure", "card declined")},
		{`Failure != 'card declined'`, notQ(phrase("failure", "card declined"))},
		// NULL.
		{`CloseTime IS NULL`, notQ(rng("close_time", minTime, true, nil, false))},
		{`CloseTime IS NOT NULL`, rng("close_time", minTime, true, nil, false)},
		{`CustomerId IS NULL`, notQ(wildcard("attr.CustomerId", "*"))},
		// Custom attributes, backquoted names.
		{`CustomerId = 'c-1'`, term("attr.CustomerId", "c-1")},
		{`attr.CustomerId = 'c-1'`, term("attr.CustomerId", "c-1")},
		{"`CustomerId` = 'c-1'", term("attr.CustomerId", "c-1")},
		{`Amount >= 99.5`, rng("attr.Amount", 99.5, true, nil, false)},
		{`Vip = true`, boolQ("attr.Vip", true)},
		{`Vip = 'false'`, boolQ("attr.Vip", false)},
		{`Notes = 'call back'`, phrase("attr.Notes", "call back")},
		{`DueAt < now`, rng("attr.DueAt", nil, false, testNow, false)},
		// Only ORDER BY.
		{`ORDER BY StartTime`, `{"match_all":{}}`},
	}
	for _, c := range cases {
		if d := Detect(c.q, testSchema()); d != Temporal {
			t.Errorf("Detect(%q) = %v, want temporal", c.q, d)
		}
		checkQuery(t, c.q, c.want)
	}
}

func TestTemporalOrderBy(t *testing.T) {
	cases := []struct {
		q    string
		sort []string
	}{
		{`WorkflowType = 'Order'`, nil},
		{`WorkflowType = 'Order' ORDER BY StartTime DESC`, []string{"-start_time"}},
		{`WorkflowType = 'Order' order by StartTime asc, WorkflowId`, []string{"start_time", "workflow_id"}},
		{`ORDER BY CloseTime DESC, Amount DESC, history_length`, []string{"-close_time", "-attr.Amount", "history_length"}},
		{"ExecutionStatus = 'Running' ORDER BY `CustomerId`", []string{"attr.CustomerId"}},
	}
	for _, c := range cases {
		_, sort, err := ParseWithSort(c.q, testSchema(), testNow)
		if err != nil {
			t.Errorf("ParseWithSort(%q): %v", c.q, err)
			continue
		}
		if !reflect.DeepEqual(sort, c.sort) {
			t.Errorf("ParseWithSort(%q) sort = %q, want %q", c.q, sort, c.sort)
		}
	}
}

// TestDialectsAgree: the same condition written in either dialect builds
// the same bleve query.
func TestDialectsAgree(t *testing.T) {
	pairs := [][2]string{
		{`ExecutionStatus = 'Running' AND WorkflowType = 'Order'`, `execution_status:running type:Order`},
		{`ExecutionStatus = 'Running' OR ExecutionStatus = 'Failed'`, `execution_status:running OR execution_status:failed`},
		{`ExecutionStatus IN ('Running', 'Failed')`, `execution_status:(running OR failed)`},
		{`ExecutionStatus != 'Failed'`, `-execution_status:failed`},
		{`WorkflowType = 'Order' AND NOT ExecutionStatus = 'Failed'`, `type:Order -execution_status:failed`},
		{`WorkflowId STARTS_WITH 'order-'`, `workflow_id:order-*`},
		{`WorkflowId LIKE 'order-%'`, `workflow_id:order-*`},
		{`WorkflowId CONTAINS '-42'`, `workflow_id:*-42*`},
		{`WorkflowId LIKE '%-42%'`, `workflow_id:*-42*`},
		{`Failure = 'card declined'`, `failure:"card declined"`},
		{`StartTime > '2026-11-01'`, `start_time:>"2026-11-01"`},
		{`StartTime >= '2026-11-01T00:00:00Z'`, `start_time:>=2026-11-01`},
		{`StartTime < now-1d`, `start_time:<now-24h`},
		{`approval_since < now-24h`, `approval_since:<now-1d`},
		{`HistoryLength BETWEEN 5 AND 10`, `history_length:[5 TO 10]`},
		{`ExecutionDuration > '1m'`, `duration_ms:>60000`},
		{`CloseTime IS NOT NULL`, `close_time:*`},
		{`CloseTime IS NULL`, `-close_time:*`},
		{`CustomerId = 'c-1' AND Vip = true`, `attr.CustomerId:c-1 Vip:true`},
		{`Amount > 100`, `Amount:>100`},
		{`(WorkflowType = 'A' OR WorkflowType = 'B') AND ExecutionStatus = 'Failed'`, `(type:A OR type:B) execution_status:failed`},
	}
	for _, p := range pairs {
		a, b := mustParse(t, p[0]), mustParse(t, p[1])
		if !reflect.DeepEqual(normalize(t, a), normalize(t, b)) {
			t.Errorf("dialects disagree:\n  %s\n    -> %s\n  %s\n    -> %s", p[0], a, p[1], b)
		}
	}
}
