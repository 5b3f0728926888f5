package query

import (
	"errors"
	"strings"
	"testing"
)

// TestErrors: a bad query names where (byte offset), what was expected and
// what was found.
func TestErrors(t *testing.T) {
	cases := []struct {
		q     string
		pos   int
		msg   string // the whole message, or a part of it when partial
		found string
	}{
		// Temporal.
		{`ExecutionStatus = `, 18, `at 18: expected a value after "=", found end of query`, endOfQuery},
		{`WorkflowType = 'Order' AND ExecutionStatus =`, 44, `at 44: expected a value after "=", found end of query`, endOfQuery},
		{`WorkflowType = 'Order' AND`, 26, `at 26: expected a condition (a field name, NOT or "(") after "AND", found end of query`, endOfQuery},
		{`WorkflowType = 'Order' AND OR x = 1`, 27, `at 27: expected a condition (a field name, NOT or "(") after "AND", found "OR"`, `"OR"`},
		{`WorkflowTyp = 'Order'`, 0, `at 0: unknown field "WorkflowTyp" (did you mean WorkflowType?)`, `"WorkflowTyp"`},
		{`ExecutionStatus = 'Running' AND CustomerID2 = 'x'`, 32, `unknown field "CustomerID2" (did you mean CustomerId?)`, `"CustomerID2"`},
		{`ExecutionStatus = 'Runing'`, 18, `at 18: unknown execution_status "Runing" (did you mean running?)`, `"Runing"`},
		{`ExecutionStatus = 'Bogus'`, 18, `execution_status has no value "Bogus": it is one of running, completed`, `"Bogus"`},
		{`WorkflowType = 'Order`, 15, `at 15: expected a closing ' after the string that starts here, found end of query`, endOfQuery},
		{`WorkflowType = 'Order' ExecutionStatus = 'Running'`, 23, `at 23: expected AND, OR, ORDER BY or the end of the query, found "ExecutionStatus"`, `"ExecutionStatus"`},
		{`(WorkflowType = 'Order'`, 23, `at 23: expected ")" to close the "(" at 0, found end of query`, endOfQuery},
		{`WorkflowType = 'Order')`, 22, `at 22: expected AND, OR, ORDER BY or the end of the query, found ")"`, `")"`},
		{`HistoryLength > 'ten'`, 16, `at 16: history_length takes a number, not "ten"`, `"ten"`},
		{`StartTime > 'yesterday'`, 12, `start_time takes a time like 2026-11-01`, `"yesterday"`},
		{`StartTime > now-3x`, 12, `start_time takes a time`, `"now-3x"`},
		{`StartTime > '1500-01-01'`, 12, `outside the range the index can hold`, `"1500-01-01"`},
		{`ExecutionDuration > 'long'`, 20, `duration_ms takes a number of milliseconds or a duration`, `"long"`},
		{`Vip = maybe`, 6, `attr.Vip takes true or false, not "maybe"`, `"maybe"`},
		{`Failure > 'x'`, 8, `> needs a keyword, number or time field; failure is a text field`, `">"`},
		{`StartTime STARTS_WITH '2026'`, 10, `STARTS_WITH needs a keyword field; start_time is a time field`, `"STARTS_WITH"`},
		{`WorkflowId IN 'a'`, 14, `at 14: expected "(" and a list of values after "IN", found "'a'"`, `"'a'"`},
		{`WorkflowId IN ('a' 'b')`, 19, `at 19: expected "," or ")" after "'a'", found "'b'"`, `"'b'"`},
		{`WorkflowId IN ()`, 15, `at 15: expected a value after "(", found ")"`, `")"`},
		{`HistoryLength BETWEEN 1 OR 2`, 24, `at 24: expected AND after "1", found "OR"`, `"OR"`},
		{`CloseTime IS NOTHING`, 13, `at 13: expected NULL after "IS", found "NOTHING"`, `"NOTHING"`},
		{`WorkflowId NOT = 'x'`, 15, `at 15: expected IN, BETWEEN, LIKE, STARTS_WITH or CONTAINS after "NOT", found "="`, `"="`},
		{`Failure LIKE 'a%b'`, 13, `LIKE on it takes '%words%'`, `"a%b"`},
		{`WorkflowType = 'A' ORDER BY Failure`, 28, `cannot sort by failure: it is a text field`, `"Failure"`},
		{`WorkflowType = 'A' ORDER BY Nope`, 28, `unknown field "Nope"`, `"Nope"`},
		{`WorkflowType = 'A' ORDER BY`, 27, `at 27: expected a field name after "BY", found end of query`, endOfQuery},
		{`WorkflowType = 'A' AND WorkflowId ! 'x'`, 34, `at 34: expected "!=", found "!"`, `"!"`},
		// Query string.
		{`status:running) ñé`, 14, `at 14: expected a term, AND, OR or the end of the query, found ")"`, `")"`},
		{`type:Order AND AND ñé`, 15, `at 15: expected a term after "AND", found "AND"`, `"AND"`},
		{`type:Order OR ñé:x`, 14, `unknown field "ñé"`, `"ñé"`},
		{`type:Order) ñé`, 10, `found ")"`, `")"`},
		{`history_length:>ñé€x y`, 16, `history_length takes a number, not "ñé€x"`, `"ñé€x"`},
		{`status:`, 7, `at 7: expected a value after "status:", found end of query`, endOfQuery},
		{`status:running type:`, 20, `at 20: expected a value after "type:", found end of query`, endOfQuery},
		{`statuss:running`, 0, `at 0: unknown field "statuss" (did you mean status?)`, `"statuss"`},
		{`type:Order workflowid2:x`, 11, `unknown field "workflowid2" (did you mean WorkflowId?)`, `"workflowid2"`},
		{`status:runing`, 7, `at 7: unknown status "runing" (did you mean running?)`, `"runing"`},
		{`failure:"card declined`, 8, `at 8: expected a closing " after the phrase that starts here, found end of query`, endOfQuery},
		{`(status:running`, 15, `at 15: expected ")" to close the "(" at 0, found end of query`, endOfQuery},
		{`status:running)`, 14, `at 14: expected a term, AND, OR or the end of the query, found ")"`, `")"`},
		{`status:running OR`, 17, `at 17: expected a term after "OR", found end of query`, endOfQuery},
		{`OR status:running`, 0, `at 0: expected a term, found "OR"`, `"OR"`},
		{`status:running AND AND type:x`, 19, `at 19: expected a term after "AND", found "AND"`, `"AND"`},
		{`-`, 1, `at 1: expected a term after "-", found end of query`, endOfQuery},
		{`()`, 1, `at 1: expected a term after "(", found ")"`, `")"`},
		{`history_length:>`, 16, `at 16: expected a value after ">", found end of query`, endOfQuery},
		{`history_length:>abc`, 16, `history_length takes a number, not "abc"`, `"abc"`},
		{`start_time:<yesterday`, 12, `start_time takes a time`, `"yesterday"`},
		{`duration_ms:[1s 5m]`, 16, `at 16: expected "TO" after "1s", found "5m]"`, `"5m]"`},
		{`duration_ms:[1s TO 5m`, 21, `at 21: expected "]" or "}" to close the range at 12, found end of query`, endOfQuery},
		{`failure:>x`, 8, `> needs a keyword, number or time field; failure is a text field`, `">"`},
		{`history_length:1*`, 15, `a wildcard needs a keyword or text field; history_length is a number field`, `"a wildcard"`},
		{`workflow_id:/[a-/`, 12, `bad regular expression /[a-/`, `"[a-"`},
		{`workflow_id:/abc`, 12, `at 12: expected a closing "/" after the regular expression that starts here, found end of query`, endOfQuery},
		{`failure:declined~5`, 17, `fuzziness after "~" is 0, 1 or 2, not 5`, `"5"`},
		{`type:Order^x`, 11, `at 11: expected a boost (a number) after "^", found "x"`, `"x"`},
		{`type:order\`, 11, `at 11: expected a character to escape after "\", found end of query`, endOfQuery},
		{`Vip:maybe`, 4, `attr.Vip takes true or false`, `"maybe"`},
		{strings.Repeat("(", 100) + "a", 64, `query nests too deeply`, `"("`},
		{strings.Repeat("-", 100) + "a", 64, `query nests too deeply`, `"-"`},
		{strings.Repeat("NOT ", 100) + "WorkflowId = 'a'", 256, `query nests too deeply`, `"NOT"`},
		// A condition of the other dialect inside a query says so, rather
		// than being free text that matches nothing (issue 19, finding 6).
		{`status:running AND WorkflowType = 'Order'`, 19, `mixes the two dialects: WorkflowType with an operator is a list-filter condition in a query string`, `"WorkflowType"`},
		{`status:running WorkflowType='Order'`, 15, `mixes the two dialects: WorkflowType with an operator is a list-filter condition in a query string (name:value), where it would match as free text; write WorkflowType:value`, `"WorkflowType"`},
		{`type:Order ExecutionStatus != 'Running'`, 11, `mixes the two dialects: ExecutionStatus`, `"ExecutionStatus"`},
		{`type:Order -ExecutionStatus = 'Running'`, 12, `mixes the two dialects: ExecutionStatus`, `"ExecutionStatus"`},
		{`type:Order AND approvals IS NOT NULL`, 15, `mixes the two dialects: approvals`, `"approvals"`},
		{`type:Order AND (status:failed OR CloseTime > now-1h)`, 33, `mixes the two dialects: CloseTime`, `"CloseTime"`},
		{`status:running ORDER BY StartTime`, 15, `mixes the two dialects: ORDER BY is list-filter syntax`, `"ORDER BY"`},
		{`ExecutionStatus = 'Running' AND type:Order`, 32, `mixes the two dialects: type:Order is a query-string term in a list filter (name = 'value'); write type = 'Order'`, `"type:Order"`},
		{`ExecutionStatus = 'Running' type:Order`, 28, `mixes the two dialects: type:Order is a query-string term in a list filter (name = 'value'); write type = 'Order'`, `"type:Order"`},
		{`WorkflowType = 'Order' AND -status:failed`, 27, `write status = 'failed'`, `"-status:failed"`},
	}
	for _, c := range cases {
		_, err := Parse(c.q, testSchema(), testNow)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want an *Error", c.q, err)
			continue
		}
		if e.Pos != c.pos || e.Found != c.found || !strings.Contains(e.Error(), c.msg) {
			t.Errorf("Parse(%q):\n got pos %d found %s: %s\nwant pos %d found %s: …%s…", c.q, e.Pos, e.Found, e.Error(), c.pos, c.found, c.msg)
		}
		if e.Msg == "" {
			t.Errorf("Parse(%q): empty Msg", c.q)
		}
	}
}

// TestErrorExpected: Expected says what would be valid, for tools that
// offer completions.
func TestErrorExpected(t *testing.T) {
	cases := map[string]string{
		`ExecutionStatus = `:       "a value",
		`WorkflowTyp = 'x'`:        "WorkflowType",
		`status:runing`:            "running",
		`history_length:>abc`:      "a number",
		`WorkflowType = 'A' ORDER`: "AND, OR, ORDER BY or the end of the query",
	}
	for q, want := range cases {
		_, err := Parse(q, testSchema(), testNow)
		var e *Error
		if !errors.As(err, &e) || e.Expected != want {
			t.Errorf("Parse(%q): Expected = %q, want %q (err %v)", q, e.Expected, want, err)
		}
	}
}

func TestQueryTooLong(t *testing.T) {
	_, err := Parse(strings.Repeat("a ", MaxQueryLen), testSchema(), testNow)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "query too long") {
		t.Fatalf("got %v", err)
	}
}
