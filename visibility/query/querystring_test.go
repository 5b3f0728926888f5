package query

import (
	"testing"
	"time"
)

// defaults is what a bare value searches in the test schema.
func defaults(v string) string {
	return disj(term("workflow_id", v), term("run_id", v), term("type", v),
		phrase("input", v), phrase("result", v), phrase("failure", v),
		phrase("signals", v), phrase("status_line", v), phrase("history", v),
		phrase("attr.Notes", v))
}

func TestQueryString(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct{ q, want string }{
		// Empty and plain field:value.
		{``, `{"match_all":{}}`},
		{`   `, `{"match_all":{}}`},
		{`status:running`, term("status", "running")},
		{`status:Running`, term("status", "running")},
		{`status:TimedOut`, term("status", "timed_out")},
		{`status:cancelled`, term("status", "canceled")},
		{`waiting_on:Approval`, term("waiting_on", "approval")},
		{`type:Order`, term("type", "Order")},
		{`WorkflowType:Order`, term("type", "Order")},
		{`workflowType:Order`, term("type", "Order")},
		{`status: running`, term("status", "running")},
		// Clauses side by side are all required.
		{`status:running type:Order "card declined"`,
			conj(term("status", "running"), term("type", "Order"), defaults("card declined"))},
		{`status:running AND type:Order`, conj(term("status", "running"), term("type", "Order"))},
		{`status:running && type:Order`, conj(term("status", "running"), term("type", "Order"))},
		{`+status:running +type:Order`, conj(term("status", "running"), term("type", "Order"))},
		// OR binds loosest; groups.
		{`type:A OR type:B`, disj(term("type", "A"), term("type", "B"))},
		{`type:A || type:B`, disj(term("type", "A"), term("type", "B"))},
		{`status:failed type:A OR type:B`,
			disj(conj(term("status", "failed"), term("type", "A")), term("type", "B"))},
		{`status:failed (type:A OR type:B)`,
			conj(term("status", "failed"), disj(term("type", "A"), term("type", "B")))},
		{`type:(A OR B OR C)`, disj(term("type", "A"), term("type", "B"), term("type", "C"))},
		{`status:(running OR Failed)`, disj(term("status", "running"), term("status", "failed"))},
		{`((status:running))`, term("status", "running")},
		// Negation.
		{`-status:failed`, notQ(term("status", "failed"))},
		{`!status:failed`, notQ(term("status", "failed"))},
		{`NOT status:failed`, notQ(term("status", "failed"))},
		{`type:Order -status:failed -status:terminated`,
			andNot([]string{term("type", "Order")}, term("status", "failed"), term("status", "terminated"))},
		{`type:Order -(status:failed OR status:terminated)`,
			andNot([]string{term("type", "Order")}, term("status", "failed"), term("status", "terminated"))},
		{`--status:failed`, term("status", "failed")},
		{`type:Order NOT status:failed`, andNot([]string{term("type", "Order")}, term("status", "failed"))},
		// Lower-case and/or/not are words.
		{`failure:or`, phrase("failure", "or")},
		// Text fields: phrases, wildcards, fuzzy, regexp.
		{`failure:"card declined"`, phrase("failure", "card declined")},
		{`failure:declined`, phrase("failure", "declined")},
		{`failure:Decl*`, prefixQ("failure", "decl")},
		{`failure:d?cl*ed`, wildcard("failure", "d?cl*ed")},
		{`failure:declnied~2`, js(map[string]any{"match": "declnied", "field": "failure", "fuzziness": 2, "prefix_length": 0})},
		{`type:Ordr~`, js(map[string]any{"term": "Ordr", "field": "type", "fuzziness": 1, "prefix_length": 0})},
		{`failure:/card_decl.*/`, regexpQ("failure", "card_decl.*")},
		{`workflow_id:/order-[0-9]+/`, regexpQ("workflow_id", "order-[0-9]+")},
		{`workflow_id:/a\/b/`, regexpQ("workflow_id", "a/b")},
		// Ids: prefix, substring, exact with escapes.
		{`workflow_id:order-*`, prefixQ("workflow_id", "order-")},
		{`workflow_id:*-42*`, wildcard("workflow_id", "*-42*")},
		{`workflow_id:*-42`, wildcard("workflow_id", "*-42")},
		{`workflow_id:order-4?`, wildcard("workflow_id", "order-4?")},
		{`workflow_id:order\*1`, term("workflow_id", "order*1")},
		{`workflow_id:a\*b*`, prefixQ("workflow_id", "a*b")},
		{`workflow_id:*a\?b*`, regexpQ("workflow_id", `.*a\?b.*`)},
		{`workflow_id:order\ 42`, term("workflow_id", "order 42")},
		{`workflow_id:**x**`, wildcard("workflow_id", "*x*")},
		{`workflow_id:"order-*"`, term("workflow_id", "order-*")},
		// Existence.
		{`close_time:*`, rng("close_time", minTime, true, nil, false)},
		{`workflow_id:*`, wildcard("workflow_id", "*")},
		{`-close_time:*`, notQ(rng("close_time", minTime, true, nil, false))},
		// Numbers and durations.
		{`history_length:12`, rng("history_length", 12, true, 12, true)},
		{`history_length:>12`, rng("history_length", 12, false, nil, false)},
		{`history_length:>=12`, rng("history_length", 12, true, nil, false)},
		{`attempts:<3`, rng("attempts", nil, false, 3, false)},
		{`attempts:<=-3.5`, rng("attempts", nil, false, -3.5, true)},
		{`duration_ms:>1h30m`, rng("duration_ms", 5400000, false, nil, false)},
		{`duration_ms:>2d`, rng("duration_ms", 172800000, false, nil, false)},
		{`duration_ms:[1s TO 5m}`, rng("duration_ms", 1000, true, 300000, false)},
		{`duration_ms:{1000 TO *]`, rng("duration_ms", 1000, false, nil, false)},
		{`progress_pct:[* TO *]`, rng("progress_pct", -1.7976931348623157e308, true, nil, false)},
		{`Amount:>100`, rng("attr.Amount", 100, false, nil, false)},
		// Times: absolute, bare dates, relative.
		{`start_time:>"2026-11-01"`, rng("start_time", date("2026-11-01T00:00:00Z"), false, nil, false)},
		{`start_time:>2026-11-01`, rng("start_time", date("2026-11-01T00:00:00Z"), false, nil, false)},
		{`start_time:>=2026-11-01T10:00:00Z`, rng("start_time", date("2026-11-01T10:00:00Z"), true, nil, false)},
		{`start_time:<"2026-11-01T10:00:00+02:00"`, rng("start_time", nil, false, date("2026-11-01T08:00:00Z"), false)},
		{`start_time:2026-11-01`, rng("start_time", date("2026-11-01T00:00:00Z"), true, date("2026-11-02T00:00:00Z"), false)},
		{`start_time:"2026-11-01 10:00"`, rng("start_time", date("2026-11-01T10:00:00Z"), true, date("2026-11-01T10:00:00Z"), true)},
		{`start_time:<now-1d`, rng("start_time", nil, false, testNow.Add(-day), false)},
		{`approval_since:<now-24h`, rng("approval_since", nil, false, testNow.Add(-day), false)},
		{`last_event_time:<=NOW-1w`, rng("last_event_time", nil, false, testNow.Add(-7*day), true)},
		{`start_time:>now`, rng("start_time", testNow, false, nil, false)},
		{`start_time:[2026-11-01 TO 2026-11-02]`, rng("start_time", date("2026-11-01T00:00:00Z"), true, date("2026-11-02T00:00:00Z"), true)},
		{`DueAt:<now+2h`, rng("attr.DueAt", nil, false, testNow.Add(2*time.Hour), false)},
		// Keyword ranges.
		{`workflow_id:[a TO m}`, rng("workflow_id", "a", true, "m", false)},
		{`workflow_id:>order-5`, rng("workflow_id", "order-5", false, nil, false)},
		// Booleans and custom attributes.
		{`Vip:true`, boolQ("attr.Vip", true)},
		{`attr.Vip:FALSE`, boolQ("attr.Vip", false)},
		{`Vip:*`, disj(boolQ("attr.Vip", true), boolQ("attr.Vip", false))},
		{`CustomerId:c-1`, term("attr.CustomerId", "c-1")},
		{`attr.CustomerId:c-1`, term("attr.CustomerId", "c-1")},
		{`customerid:c-1`, term("attr.CustomerId", "c-1")},
		{`Notes:"call back"`, phrase("attr.Notes", "call back")},
		{`"attr.CustomerId":c-1`, term("attr.CustomerId", "c-1")},
		// Bare values search the default fields.
		{`order-42`, defaults("order-42")},
		{`"card declined"`, defaults("card declined")},
		{`card AND declined`, conj(defaults("card"), defaults("declined"))},
		// Boost.
		{`type:Order^2`, js(map[string]any{"term": "Order", "field": "type", "boost": 2})},
	}
	for _, c := range cases {
		if d := Detect(c.q, testSchema()); d != QueryString {
			t.Errorf("Detect(%q) = %v, want query string", c.q, d)
		}
		checkQuery(t, c.q, c.want)
	}
}
