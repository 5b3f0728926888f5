package query

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/foremanhq/foreman/visibility/fields"
)

// lit is a value as written in a query: its text (unquoted, unescaped), the
// byte offset where it starts, and whether it was quoted.
type lit struct {
	text   string
	pos    int
	quoted bool
}

func (l lit) found() string { return quoteFound(l.text) }

// enums are the keyword fields with a closed set of values (the field
// table's Values). Values match ignoring case and underscores, so
// Temporal's 'Running', 'TimedOut' and 'ContinuedAsNew' find foreman's
// running, timed_out and continued_as_new; an unknown value is an error
// with suggestions rather than zero hits.
var enums = func() map[string][]string {
	out := map[string][]string{}
	for _, f := range fields.Builtin {
		if f.Values != nil {
			out[f.Name] = f.Values
		}
	}
	return out
}()

var enumAliases = map[string]string{"cancelled": "canceled"}

// keywordValue is the term a keyword field is compared with.
func keywordValue(f Field, l lit) (string, *Error) {
	values, ok := enums[f.Path]
	if !ok {
		return l.text, nil
	}
	key := fold(l.text)
	if a, ok := enumAliases[key]; ok {
		return a, nil
	}
	for _, v := range values {
		if fold(v) == key {
			return v, nil
		}
	}
	e := failf(l.pos, l.found(), "%s has no value %q: it is one of %s", f.Path, l.text, strings.Join(values, ", "))
	e.Expected = orList(values)
	if sug := suggest(l.text, values); len(sug) > 0 {
		e.Msg = "unknown " + f.Path + " " + strconvQuote(l.text) + " (did you mean " + orList(sug) + "?)"
		e.Expected = orList(sug)
	}
	return "", e
}

func strconvQuote(s string) string { return strconv.Quote(s) }

// numberValue parses a number. Fields whose path ends in _ms also take a
// duration (90s, 1h30m, 2d), converted to milliseconds.
func numberValue(f Field, l lit) (float64, *Error) {
	s := strings.TrimSpace(l.text)
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		return v, nil
	}
	if strings.HasSuffix(f.Path, "_ms") {
		neg := strings.HasPrefix(s, "-")
		d, ok := parseDuration(strings.TrimPrefix(s, "-"))
		if ok {
			ms := float64(d) / float64(time.Millisecond)
			if neg {
				ms = -ms
			}
			return ms, nil
		}
		e := failf(l.pos, l.found(), "%s takes a number of milliseconds or a duration like 90s, 1h30m or 2d, not %q", f.Path, l.text)
		e.Expected = "a number or a duration"
		return 0, e
	}
	e := failf(l.pos, l.found(), "%s takes a number, not %q", f.Path, l.text)
	e.Expected = "a number"
	return 0, e
}

// boolValue parses true or false (any case).
func boolValue(f Field, l lit) (bool, *Error) {
	switch strings.ToLower(strings.TrimSpace(l.text)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	e := failf(l.pos, l.found(), "%s takes true or false, not %q", f.Path, l.text)
	e.Expected = "true or false"
	return false, e
}

// timeLayouts are the absolute forms a time may take; the date-only form
// is the last one (see timeValue).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// The range of times a bleve date range can hold (bleve's
// MinRFC3339CompatibleTime and MaxRFC3339CompatibleTime).
var (
	minTime = time.Date(1677, 12, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2262, 4, 11, 11, 59, 59, 0, time.UTC)
)

// timeValue parses an absolute time (RFC 3339, or a date and time without a
// zone, read as UTC, or a bare date) or a time relative to now: now,
// now-24h, now-1d, now+30m, now-1w2d. day reports a bare date (2026-11-01),
// which an equality compares with the whole day.
func timeValue(f Field, l lit, now time.Time) (t time.Time, day bool, err *Error) {
	s := strings.TrimSpace(l.text)
	if t, ok := relativeTime(s, now); ok {
		return t.UTC(), false, inTimeRange(f, l, t)
	}
	for i, layout := range timeLayouts {
		if t, perr := time.Parse(layout, s); perr == nil {
			return t.UTC(), i == len(timeLayouts)-1, inTimeRange(f, l, t)
		}
	}
	e := failf(l.pos, l.found(), "%s takes a time like 2026-11-01, 2026-11-01T15:04:05Z or now-24h, not %q", f.Path, l.text)
	e.Expected = "a time"
	return time.Time{}, false, e
}

func inTimeRange(f Field, l lit, t time.Time) *Error {
	if t.Before(minTime) || t.After(maxTime) {
		e := failf(l.pos, l.found(), "%s: time %q is outside the range the index can hold (1677-12-01 to 2262-04-11)", f.Path, l.text)
		e.Expected = "a time"
		return e
	}
	return nil
}

// relativeTime parses now, now-<duration> and now+<duration>.
func relativeTime(s string, now time.Time) (time.Time, bool) {
	if len(s) < 3 || !strings.EqualFold(s[:3], "now") {
		return time.Time{}, false
	}
	rest := strings.TrimSpace(s[3:])
	if rest == "" {
		return now, true
	}
	sign := time.Duration(1)
	switch rest[0] {
	case '-':
		sign = -1
	case '+':
	default:
		return time.Time{}, false
	}
	d, ok := parseDuration(strings.TrimSpace(rest[1:]))
	if !ok {
		return time.Time{}, false
	}
	return now.Add(sign * d), true
}

// durationUnits are Go's duration units plus days and weeks (24h and 7d:
// calendar-free, which is what "older than a day" means to an operator).
var durationUnits = map[string]float64{
	"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9,
	"m": 60e9, "h": 3600e9, "d": 86400e9, "w": 7 * 86400e9,
}

// parseDuration parses a sequence of <number><unit> (1h30m, 1.5d, 2w) into a
// non-negative duration; it refuses values beyond ~290 years.
func parseDuration(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, false
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, false
		}
		s = s[i:]
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		unit, ok := durationUnits[strings.ToLower(s[:j])]
		if !ok {
			return 0, false
		}
		s = s[j:]
		total += n * unit
		if total > math.MaxInt64/2 {
			return 0, false
		}
	}
	return time.Duration(total), true
}
