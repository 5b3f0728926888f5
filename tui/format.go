package tui

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/foremanhq/foreman/engine"
)

// Pure formatting helpers shared by every view: no styles, no state.

// statusGlyph is the glyph shown before a status word; the word is always
// shown too, so colour is never the only signal.
func statusGlyph(s engine.Status) string {
	switch s {
	case engine.StatusRunning:
		return "●"
	case engine.StatusCompleted:
		return "✓"
	case engine.StatusFailed:
		return "✗"
	case engine.StatusCanceled:
		return "⊘"
	case engine.StatusTerminated:
		return "■"
	case "timed_out":
		return "◔"
	case engine.StatusContinuedAsNew:
		return "↻"
	case engine.StatusReset:
		return "↺"
	case engine.StatusCompensated:
		return "↶"
	}
	return "?"
}

// statusWord is the status as operators read it.
func statusWord(s engine.Status) string {
	switch s {
	case engine.StatusContinuedAsNew:
		return "continued"
	case "":
		return "unknown"
	}
	return strings.ReplaceAll(string(s), "_", " ")
}

// allStatuses is the order statuses appear in the counts header.
var allStatuses = []engine.Status{
	engine.StatusRunning, engine.StatusCompleted, engine.StatusFailed, engine.StatusCanceled,
	engine.StatusTerminated, "timed_out", engine.StatusContinuedAsNew, engine.StatusReset, engine.StatusCompensated,
}

// compactDuration renders d with at most two units: 45s, 4m12s, 3h12m, 5d3h.
func compactDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		if d == 0 {
			return "0s"
		}
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return strconv.Itoa(m) + "m"
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return strconv.Itoa(days) + "d"
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}

// preciseDuration is for timelines, where sub-second gaps matter.
func preciseDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < 0:
		return "-" + preciseDuration(-d)
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return compactDuration(d)
}

// thousands renders n with comma separators: 100,000.
func thousands[T ~int | ~int64 | ~uint64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// progressBar renders done/total in width cells followed by nothing; the
// percentage is rendered by the caller so it can be styled apart.
func progressBar(p *engine.Progress, width int) (bar string, pct string) {
	if p == nil || p.Total <= 0 || width <= 0 {
		return "", ""
	}
	done := min(max(p.Done, 0), p.Total)
	full := int(int64(width) * done / p.Total)
	return strings.Repeat("█", full) + strings.Repeat("░", width-full), fmt.Sprintf("%d%%", 100*done/p.Total)
}

// fit truncates s to w cells (with an ellipsis) and pads it to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// fitRight is fit with the text against the right edge (numbers, ages).
func fitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if n := ansi.StringWidth(s); n < w {
		s = strings.Repeat(" ", w-n) + s
	}
	return s
}

// oneLine flattens s for a single table cell.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// prettyJSON indents raw JSON; invalid JSON is shown as it is.
func prettyJSON(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// compactJSON renders raw JSON on one line.
func compactJSON(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return oneLine(string(raw))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return oneLine(string(raw))
	}
	return string(b)
}

// shortID keeps the head of a uuid-like id, enough to tell runs apart.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// waitingWord names what a running run waits on, for a list cell.
func waitingWord(on string, attempts int) string {
	switch on {
	case "":
		return ""
	case "retry":
		if attempts > 0 {
			return "retry #" + strconv.Itoa(attempts)
		}
	case "task_failure":
		return "task error"
	}
	return on
}

// statusOf reads a status as the index reports it.
func statusOf(s string) engine.Status { return engine.Status(strings.ToLower(s)) }

// msDuration converts milliseconds as the index reports them.
func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func ansiWidth(s string) int { return ansi.StringWidth(s) }
