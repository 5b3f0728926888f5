package tui

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// timeline is the history tab: one line per event with its time since the
// start and the gap since the previous event shown, failures marked and
// highlighted, Enter to expand an event to its JSON, / to search within
// the history with the matches highlighted (n/N jump between them, or
// between failures when no search is applied), and filters (by type,
// failures only, compact; historyfilter.go).
type timeline struct {
	// offset is the first event shown. The cursor, not a viewport, drives
	// it: it counts events, not lines (an expanded event spans its JSON),
	// and the search jumps from event to event. Both are positions in
	// shown, not event indexes.
	cursor, offset int
	expanded       map[int64]bool
	searching      bool
	search         lineEdit
	term           string // applied search, lower case
	matches        []int
	mi             int

	rows   []eventRow // derived from the events (see index)
	jsonOf map[int64][]string
	height int // lines of events shown (set from the window size)

	filter engine.HistoryFilter
	shown  []int // indexes of the events the filter keeps
	prompt tabPrompt
}

// eventRow is what a timeline line shows of an event.
type eventRow struct {
	summary string
	fail    bool
	hay     string // lower-case text searched: type, summary and JSON
}

// index derives the rows of a history (after each fetch).
func (t *timeline) index(events []engine.Event) {
	t.rows = make([]eventRow, len(events))
	t.jsonOf = map[int64][]string{}
	ctx := newEventContext()
	for i, e := range events {
		s, fail := ctx.summary(e)
		raw, _ := json.Marshal(e.Attrs)
		t.rows[i] = eventRow{summary: s, fail: fail, hay: strings.ToLower(string(e.Type) + " " + s + " " + string(raw))}
	}
	t.shown = t.filter.Select(events)
	t.cursor = min(t.cursor, max(len(t.shown)-1, 0))
}

// rematch re-indexes and recomputes the matches of the applied search.
func (t *timeline) rematch(events []engine.Event) {
	t.index(events)
	t.match()
}

func (t *timeline) match() {
	t.matches = t.matches[:0]
	if t.term == "" {
		return
	}
	for pos, i := range t.shown {
		if strings.Contains(t.rows[i].hay, t.term) {
			t.matches = append(t.matches, pos)
		}
	}
	t.mi = min(t.mi, max(len(t.matches)-1, 0))
}

func (t *timeline) selected(events []engine.Event) (engine.Event, bool) {
	return t.eventAt(events, t.cursor)
}

// eventAt is the event shown at position pos.
func (t *timeline) eventAt(events []engine.Event, pos int) (engine.Event, bool) {
	if pos < 0 || pos >= len(t.shown) || t.shown[pos] >= len(events) {
		return engine.Event{}, false
	}
	return events[t.shown[pos]], true
}

// searchKey edits the search; matches update as you type and the cursor
// jumps to the first match at or after it.
func (t *timeline) searchKey(k tea.KeyPressMsg, events []engine.Event) {
	switch k.String() {
	case "esc":
		t.searching = false
		t.term, t.matches = "", nil
		t.search.set("")
		return
	case "enter":
		t.searching = false
		return
	}
	t.search.handle(k)
	t.term = strings.ToLower(strings.TrimSpace(t.search.value()))
	t.match()
	for i, idx := range t.matches {
		if idx >= t.cursor {
			t.mi = i
			t.moveTo(idx)
			return
		}
	}
	if len(t.matches) > 0 {
		t.mi = 0
		t.moveTo(t.matches[0])
	}
}

func (t *timeline) key(m *Model, d *detailScreen, k tea.KeyPressMsg) (tea.Cmd, bool) {
	ks := m.keys
	n := len(t.shown)
	t.height = d.bodyRows(m) - 2
	if to, ok := navTo(ks, k, t.cursor, t.height, n); ok {
		t.moveTo(to)
		t.follow(d.events)
		return nil, true
	}
	switch {
	case key.Matches(k, ks.Expand):
		if e, ok := t.selected(d.events); ok {
			t.expanded[e.ID] = !t.expanded[e.ID]
		}
	case key.Matches(k, ks.Search):
		t.searching = true
	case key.Matches(k, ks.NextMatch) && t.term == "":
		return t.jumpFailure(m, d.events, 1), true
	case key.Matches(k, ks.PrevMatch) && t.term == "":
		return t.jumpFailure(m, d.events, -1), true
	case key.Matches(k, ks.NextMatch):
		if len(t.matches) > 0 {
			t.mi = (t.mi + 1) % len(t.matches)
			t.moveTo(t.matches[t.mi])
		}
	case key.Matches(k, ks.PrevMatch):
		if len(t.matches) > 0 {
			t.mi = (t.mi + len(t.matches) - 1) % len(t.matches)
			t.moveTo(t.matches[t.mi])
		}
	default:
		return t.filterKey(m, d, k)
	}
	t.cursor = min(max(t.cursor, 0), max(n-1, 0))
	t.follow(d.events)
	return nil, true
}

func (t *timeline) moveTo(i int) {
	t.cursor = max(min(i, len(t.shown)-1), 0)
}

// linesOf is how many lines the event at position pos takes (more when expanded).
func (t *timeline) linesOf(events []engine.Event, pos int) int {
	if e, ok := t.eventAt(events, pos); ok && t.expanded[e.ID] {
		return 1 + len(t.jsonLines(e))
	}
	return 1
}

func (t *timeline) jsonLines(e engine.Event) []string {
	if l, ok := t.jsonOf[e.ID]; ok {
		return l
	}
	raw, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		raw = []byte(err.Error())
	}
	l := strings.Split(string(raw), "\n")
	t.jsonOf[e.ID] = l
	return l
}

// follow scrolls so the cursor's event is on screen.
func (t *timeline) follow(events []engine.Event) {
	t.offset = t.offsetFor(events, t.height)
}

// offsetFor is the first event to show so that the cursor's event (and
// its expansion, if it fits) is within h lines.
func (t *timeline) offsetFor(events []engine.Event, h int) int {
	h = max(h, 1)
	off := min(t.offset, t.cursor)
	for off < t.cursor {
		used := 0
		for i := off; i <= t.cursor; i++ {
			used += t.linesOf(events, i)
		}
		if used <= h {
			break
		}
		off++
	}
	return max(off, 0)
}

func (t *timeline) view(m *Model, events []engine.Event, w, h int) string {
	st := &m.st
	var b strings.Builder
	// Line 1: the search bar or the hint; line 2: column headers.
	switch {
	case t.searching:
		b.WriteString(st.Key.Render("/ ") + t.search.view(st, w-16, true) + st.Dim.Render(fitRight(t.matchInfo(), 14)))
	case t.prompt.kind != 0:
		b.WriteString(t.prompt.view(st, w))
	case t.term != "":
		b.WriteString(st.Dim.Render(fit("  search: "+t.term+"  "+t.matchInfo()+"  (n/N next/previous, / edit, esc in the bar clears)", w)))
	case !t.filter.IsZero():
		b.WriteString(st.Warn.Render(fit("  "+t.filterInfo(len(events)), w)))
	default:
		b.WriteString(st.Dim.Render(fit(fmt.Sprintf("  %s events · n/N failures · f failures only · c compact · t types · D diff · R resets here · / searches", thousands(len(events))), w)))
	}
	since := w >= 100 // narrow terminals give the details the room of T+
	head := "  " + fit("#", 6) + " "
	if since {
		head += fitRight("T+", 7) + " "
	}
	b.WriteString("\n" + st.ColHeader.Render(fit(head+fitRight("GAP", 7)+"    "+fit("EVENT", 24)+" DETAILS", w)))
	rows := max(h-2, 1)
	off := t.offsetFor(events, rows)
	if len(t.shown) == 0 {
		if len(events) > 0 {
			return b.String() + "\n" + st.Dim.Render("  no event matches the filter")
		}
		return b.String() + "\n" + st.Dim.Render("  no events")
	}
	used := 0
	start := events[0].Time
	for pos := off; pos < len(t.shown) && used < rows; pos++ {
		i := t.shown[pos]
		e := events[i]
		var gap time.Duration
		if pos > 0 { // since the previous event shown: with "failures only", between failures
			gap = e.Time.Sub(events[t.shown[pos-1]].Time)
		}
		b.WriteString("\n" + t.line(st, e, i, pos == t.cursor, start, gap, w, since))
		used++
		if t.expanded[e.ID] {
			for _, jl := range t.jsonLines(e) {
				if used >= rows {
					break
				}
				b.WriteString("\n" + t.highlight(st, st.Dim, fit("        "+jl, w)))
				used++
			}
		}
	}
	return b.String()
}

func (t *timeline) matchInfo() string {
	if t.term == "" {
		return ""
	}
	if len(t.matches) == 0 {
		return "no match"
	}
	return fmt.Sprintf("%d/%d", t.mi+1, len(t.matches))
}

func (t *timeline) line(st *Styles, e engine.Event, i int, sel bool, start time.Time, gap time.Duration, w int, since bool) string {
	r := t.rows[i]
	gutter := "  "
	if sel {
		gutter = "▶ "
	}
	mark := "  "
	if r.fail {
		mark = "✗ "
	}
	exp := " "
	if t.expanded[e.ID] {
		exp = "▾"
	}
	head := gutter + fit(fmt.Sprintf("#%d", e.ID), 6) + " "
	if since {
		head += fitRight("+"+preciseDuration(e.Time.Sub(start)), 7) + " "
	}
	gapText := fitRight("+"+preciseDuration(gap), 7)
	body := " " + exp + mark + fit(string(e.Type), 24) + " "
	summary := fit(strings.TrimSpace(r.summary), max(w-ansiWidth(head)-7-ansiWidth(body), 1))
	if sel {
		return st.Selected.Render(head + gapText + body + summary)
	}
	if gap >= time.Minute {
		gapText = st.Warn.Render(gapText) // long waits stand out
	}
	if r.fail {
		return head + gapText + st.Fail.Render(body) + t.highlight(st, st.Fail, summary)
	}
	return head + gapText + body + t.highlight(st, st.Input, summary)
}

// highlight styles the occurrences of the search term in s.
func (t *timeline) highlight(st *Styles, base interface{ Render(...string) string }, s string) string {
	if t.term == "" {
		return base.Render(s)
	}
	lower := strings.ToLower(s)
	if len(lower) != len(s) {
		return base.Render(s) // case folding changed byte lengths: no safe positions
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, t.term)
		if i < 0 {
			b.WriteString(base.Render(s))
			return b.String()
		}
		b.WriteString(base.Render(s[:i]) + st.Match.Render(s[i:i+len(t.term)]))
		s, lower = s[i+len(t.term):], lower[i+len(t.term):]
	}
}
