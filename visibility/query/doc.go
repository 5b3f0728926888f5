// Package query parses Foreman's two search dialects into bleve queries:
// the bleve query string (status:running type:Order "card declined") and
// Temporal's list filter (ExecutionStatus = 'Running' AND WorkflowType =
// 'Order'). Field names go through a Schema, so both dialects know the same
// fields, under their foreman names (workflow_id), their Temporal names
// (WorkflowId) and custom search attribute names (CustomerId or
// attr.CustomerId); values are parsed by the field's kind (numbers,
// durations, times, booleans), and equivalent queries in the two dialects
// build the same bleve query.
//
// # Choosing the dialect
//
// Detect decides from the start of the query, the same way every time:
// after any spaces, "(" and NOT, a name followed by a comparison operator
// (=, !=, <>, <, <=, >, >=) or by an upper-case IN, NOT, BETWEEN,
// STARTS_WITH, LIKE, CONTAINS or IS (any case when the name is a known
// field or backquoted), or a leading ORDER BY, makes the query a Temporal
// list filter. Everything else is a query string. An empty query matches
// every run. The rule lives in package dialect, which the console shares.
//
// One query is one dialect. A list-filter condition of a known field (or
// ORDER BY) later in a query string, or a name:value term of a known field
// in a list filter, is an error that names both dialects and how to write
// it, rather than free text that silently matches nothing.
//
// # Names and values (both dialects)
//
// Names match ignoring case and underscores: WorkflowId, workflow_id and
// workflowID are one field. Custom attributes answer to their bare name and
// to attr.<Name>; a built-in name wins over a bare attribute name.
//
// By field kind:
//
//   - keyword: exact, case-sensitive terms. status and waiting_on take
//     their values in any case and with or without underscores (Running,
//     TimedOut, continued_as_new); an unknown value is an error.
//   - text: analyzed full text; field = 'card declined' is a phrase match.
//   - number: 42, -1.5. Fields ending in _ms (duration_ms,
//     ExecutionDuration) also take durations: 90s, 1h30m, 2d, 1w.
//   - time: 2026-11-01T15:04:05Z (RFC 3339), 2026-11-01T15:04:05 and
//     2026-11-01 15:04 (UTC), 2026-11-01 (a bare date: equality means the
//     whole day, comparisons its midnight), or relative: now, now-24h,
//     now-1d, now+30m, now-1w2d (d = 24h, w = 7d).
//   - bool: true, false.
//
// # Temporal list filter
//
//	query     = [ expr ] [ ORDER BY sortitem { "," sortitem } ]
//	expr      = and { OR and }
//	and       = not { AND not }
//	not       = NOT not | "(" expr ")" | condition
//	condition = name ( "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" ) value
//	          | name [ NOT ] IN "(" value { "," value } ")"
//	          | name [ NOT ] BETWEEN value AND value
//	          | name [ NOT ] STARTS_WITH value
//	          | name [ NOT ] LIKE value
//	          | name [ NOT ] CONTAINS value
//	          | name IS [ NOT ] NULL
//	sortitem  = name [ ASC | DESC ]
//	name      = word | `backquoted`
//	value     = 'single quoted' | "double quoted" | word
//
// Keywords are case-insensitive. In a quoted string the quote doubled or
// after a backslash stands for itself and \\ for a backslash; other
// backslashes are kept, for LIKE's escapes. A word is any run of characters
// other than spaces and ( ) , = ! < > ' " ` — so numbers, true, 1h30m and
// now-24h need no quotes, and unquoted strings are accepted too; AND, OR,
// NOT, IN, BETWEEN, LIKE, STARTS_WITH, CONTAINS, IS and NULL must be quoted
// as values and backquoted as names. NOT binds tighter than AND, AND
// tighter than OR.
//
// Operators by kind: = and != on every kind (!= also matches runs without
// the field); < <= > >= and BETWEEN (inclusive) on keyword, number and time;
// IN on every kind; STARTS_WITH on keyword; LIKE on keyword (% any run, _
// one character, \ escapes) and on text as '%phrase%'; CONTAINS is a
// substring of a keyword (WorkflowId CONTAINS '-42') or a phrase in a text
// field; IS NULL / IS NOT NULL on every kind. ORDER BY takes keyword,
// number, time and bool fields; ParseWithSort returns it as bleve sort
// strings.
//
// # Query string
//
//	query   = [ or ]
//	or      = and { ( OR | "||" ) and }
//	and     = clause { [ AND | "&&" ] clause }
//	clause  = ( "+" | "-" | "!" | NOT ) clause | primary [ "^" boost ]
//	primary = "(" or ")" | name ":" fvalue | value
//	fvalue  = "(" or ")"                      values inside apply to name
//	        | ( ">" | ">=" | "<" | "<=" ) value
//	        | ( "[" | "{" ) value TO value ( "]" | "}" )   "*" for an open end
//	        | "/" regexp "/"
//	        | value
//	value   = "phrase" | word [ "~" [ 0 | 1 | 2 ] ]
//
// Clauses side by side are all required (AND) — unlike bleve's own query
// string, where they are optional — and OR binds loosest, so
// `status:failed type:A OR type:B` is (status:failed AND type:A) OR type:B;
// use type:(A OR B). AND, OR, NOT and TO are operators only in upper case.
// "+" is accepted and changes nothing; "-", "!" and NOT exclude. A word ends
// at a space, ( ) ^ ~ " — a name also at ":" — and a backslash escapes any
// character. In a word, * matches any run of characters and ? one
// character: workflow_id:order-* is a prefix query, workflow_id:*-42* a
// substring match, field:* means the field has a value. On a text field a
// word or "phrase" is a phrase match, a wildcard matches single
// (lower-cased) terms, ~n is a fuzzy match within n edits, and /regexp/
// matches whole terms (keyword and text fields). Ranges: [ ] include their
// ends, { } exclude them.
//
// A value without a name searches the default fields: workflow_id, run_id
// and type exactly, and the text fields (input, result, failure, signals,
// status_line, history, custom text attributes) as phrases.
//
// # Errors
//
// A bad query returns an *Error with the byte offset of the offending
// token, what was expected there and what was found:
//
//	at 18: expected a value after "=", found end of query
//	at 0: unknown field "statuss" (did you mean status?)
//
// No input makes the parsers panic (FuzzParse checks this).
package query
