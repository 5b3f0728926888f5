package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// The history diff: two runs' histories side by side (a failed run
// against a good one of the same type), aligned by event type and what
// what each is about (engine.HistoryKeys: "ActivityCompleted Charge"), with
// the divergences marked and n/N jumping between them. D on the history
// tab opens it, against the run marked in the list or one typed at the
// prompt.

// diffKind says how a row of the diff aligns.
type diffKind uint8

const (
	diffSame    diffKind = iota // the same event in both
	diffChanged                 // different events at the same place
	diffLeft                    // only in the left run
	diffRight                   // only in the right run
)

// diffRow pairs an event of each history: indexes, -1 where absent.
type diffRow struct {
	a, b int
	kind diffKind
}

// maxDiffCells bounds the alignment table (int32s): 4M cells, 16 MB.
// Beyond it (two long histories that part early) the middle pairs up by
// position, which still shows where they part.
const maxDiffCells = 4 << 20

// alignHistories aligns two histories by their events' keys: the common
// start and end as they are, the middle by a longest common subsequence;
// next to each other, events only one side has pair up as changed rows.
func alignHistories(a, b []engine.Event) []diffRow {
	ka, kb := engine.HistoryKeys(a), engine.HistoryKeys(b)
	pre := 0
	for pre < len(ka) && pre < len(kb) && ka[pre] == kb[pre] {
		pre++
	}
	suf := 0
	for suf < len(ka)-pre && suf < len(kb)-pre && ka[len(ka)-1-suf] == kb[len(kb)-1-suf] {
		suf++
	}
	var rows []diffRow
	for i := range pre {
		rows = append(rows, diffRow{i, i, diffSame})
	}
	rows = append(rows, alignMiddle(ka[pre:len(ka)-suf], kb[pre:len(kb)-suf], pre, pre)...)
	for i := range suf {
		rows = append(rows, diffRow{len(ka) - suf + i, len(kb) - suf + i, diffSame})
	}
	return rows
}

// alignMiddle aligns ka and kb (starting at events oa and ob).
func alignMiddle(ka, kb []string, oa, ob int) []diffRow {
	n, m := len(ka), len(kb)
	var ops []diffRow // same, left or right, in order
	if n*m <= maxDiffCells {
		// lcs[i][j]: the longest common subsequence of ka[i:] and kb[j:]
		w := m + 1
		lcs := make([]int32, (n+1)*w)
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ka[i] == kb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n && j < m {
			switch {
			case ka[i] == kb[j]:
				ops = append(ops, diffRow{oa + i, ob + j, diffSame})
				i, j = i+1, j+1
			case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
				ops = append(ops, diffRow{oa + i, -1, diffLeft})
				i++
			default:
				ops = append(ops, diffRow{-1, ob + j, diffRight})
				j++
			}
		}
		for ; i < n; i++ {
			ops = append(ops, diffRow{oa + i, -1, diffLeft})
		}
		for ; j < m; j++ {
			ops = append(ops, diffRow{-1, ob + j, diffRight})
		}
	} else {
		for i := range max(n, m) {
			switch {
			case i < n && i < m && ka[i] == kb[i]:
				ops = append(ops, diffRow{oa + i, ob + i, diffSame})
			case i < n:
				ops = append(ops, diffRow{oa + i, -1, diffLeft})
				if i < m {
					ops = append(ops, diffRow{-1, ob + i, diffRight})
				}
			default:
				ops = append(ops, diffRow{-1, ob + i, diffRight})
			}
		}
	}
	return pairChanges(ops)
}

// pairChanges turns each stretch of left-only and right-only events
// between two common ones into side-by-side rows: changed while both
// sides have one, then what one side has more.
func pairChanges(ops []diffRow) []diffRow {
	out := make([]diffRow, 0, len(ops))
	var left, right []int
	flush := func() {
		for k := range max(len(left), len(right)) {
			switch {
			case k < len(left) && k < len(right):
				out = append(out, diffRow{left[k], right[k], diffChanged})
			case k < len(left):
				out = append(out, diffRow{left[k], -1, diffLeft})
			default:
				out = append(out, diffRow{-1, right[k], diffRight})
			}
		}
		left, right = left[:0], right[:0]
	}
	for _, op := range ops {
		switch op.kind {
		case diffLeft:
			left = append(left, op.a)
		case diffRight:
			right = append(right, op.b)
		default:
			flush()
			out = append(out, op)
		}
	}
	flush()
	return out
}

// diffSide is one run of the diff.
type diffSide struct {
	t       target
	events  []engine.Event
	lines   []string // narrated, one per event
	fails   []bool
	x       *engine.Execution
	err     error
	loading bool
}

func (s *diffSide) set(events []engine.Event) {
	s.events, s.x = events, engine.Summarize(events)
	s.lines, s.fails = make([]string, len(events)), make([]bool, len(events))
	ctx := newEventContext()
	for i, e := range events {
		s.lines[i], s.fails[i] = ctx.summary(e)
	}
}

// historyDiff is the diff screen.
type historyDiff struct {
	id             int
	left, right    diffSide
	rows           []diffRow
	diverge        []int // rows that differ
	cursor, offset int
	height         int
}

// diffLoadedMsg carries the history of one side.
type diffLoadedMsg struct {
	addr
	right  bool
	events []engine.Event
	err    error
}

// newHistoryDiff diffs left (whose events are known when non-nil, as
// they are from the run's detail view) with right.
func newHistoryDiff(m *Model, left target, events []engine.Event, right target) *historyDiff {
	h := &historyDiff{id: m.id()}
	h.left.t, h.right.t = left, right
	if events != nil {
		h.left.set(events)
	}
	return h
}

// openDiff diffs the run with the one run marked in a list below it, or
// asks which run.
func (d *detailScreen) openDiff(m *Model) tea.Cmd {
	if marked := markedRuns(m, d.run); len(marked) == 1 {
		return m.push(newHistoryDiff(m, d.target(), d.events, marked[0]))
	}
	d.hist.prompt.open(promptDiff, "")
	return nil
}

func (h *historyDiff) sid() int   { return h.id }
func (h *historyDiff) acts() bool { return false }
func (h *historyDiff) crumb() string {
	return "diff " + h.left.t.WorkflowID + " ↔ " + h.right.t.WorkflowID
}

func (h *historyDiff) load(m *Model) tea.Cmd {
	var cmds []tea.Cmd
	for _, side := range []*diffSide{&h.left, &h.right} {
		if side.events == nil {
			side.loading = true
			cmds = append(cmds, h.fetchSide(m, side.t, side == &h.right))
		}
	}
	return tea.Batch(cmds...)
}

func (h *historyDiff) fetchSide(m *Model, t target, right bool) tea.Cmd {
	b, id := m.b, h.id
	return fetch(m, func(ctx context.Context) ([]engine.Event, error) { return b.History(ctx, t.WorkflowID, t.RunID) },
		func(events []engine.Event, err error) tea.Msg {
			return diffLoadedMsg{addr: addr{id}, right: right, events: events, err: err}
		})
}

func (h *historyDiff) refresh(m *Model) tea.Cmd { return nil }
func (h *historyDiff) resize(m *Model) tea.Cmd  { return nil }

func (h *historyDiff) receive(m *Model, msg tea.Msg) tea.Cmd {
	if msg, ok := msg.(diffLoadedMsg); ok {
		side := &h.left
		if msg.right {
			side = &h.right
		}
		side.loading, side.err = false, msg.err
		if msg.err == nil {
			side.set(msg.events)
		}
		if h.ready() {
			h.align()
		}
	}
	return nil
}

// ready: both histories are read.
func (h *historyDiff) ready() bool {
	return h.left.x != nil && h.right.x != nil
}

func (h *historyDiff) align() {
	h.rows = alignHistories(h.left.events, h.right.events)
	h.diverge = h.diverge[:0]
	for i, r := range h.rows {
		if r.kind != diffSame {
			h.diverge = append(h.diverge, i)
		}
	}
	h.cursor, h.offset = 0, 0
	if len(h.diverge) > 0 {
		// where they part is what the diff is for, under a little of what they share
		h.cursor = h.diverge[0]
		h.offset = max(h.cursor-3, 0)
	}
}

func (h *historyDiff) moveTo(i int) {
	h.cursor = max(min(i, len(h.rows)-1), 0)
	h.offset = min(h.offset, h.cursor)                    // above the window: scroll up to it
	h.offset = max(h.offset, h.cursor-max(h.height, 1)+1) // below: scroll down to it
}

// navTo is where a movement key (up, down, pages, first, last) takes a
// cursor over n rows shown page at a time; false for any other key.
func navTo(ks keyMap, k tea.KeyPressMsg, cur, page, n int) (int, bool) {
	page = max(page, 1)
	for _, mv := range []struct {
		b  []key.Binding
		to int
	}{
		{[]key.Binding{ks.Down}, cur + 1}, {[]key.Binding{ks.Up}, cur - 1},
		{[]key.Binding{ks.PageDown, ks.HalfDown}, cur + page}, {[]key.Binding{ks.PageUp, ks.HalfUp}, cur - page},
		{[]key.Binding{ks.Top}, 0}, {[]key.Binding{ks.Bottom}, n - 1},
	} {
		if key.Matches(k, mv.b...) {
			return max(min(mv.to, n-1), 0), true
		}
	}
	return cur, false
}

func (h *historyDiff) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	ks := m.keys
	h.height = max(m.h-m.bodyTop()-2-3, 1)
	if to, ok := navTo(ks, k, h.cursor, h.height, len(h.rows)); ok {
		h.moveTo(to)
		return nil, true
	}
	switch {
	case key.Matches(k, ks.NextMatch), key.Matches(k, ks.PrevMatch):
		next := key.Matches(k, ks.NextMatch)
		if len(h.diverge) == 0 {
			return m.flashOK("the two histories do not diverge"), true
		}
		to := h.diverge[0]
		if !next {
			to = h.diverge[len(h.diverge)-1]
		}
		for j := range h.diverge {
			d := h.diverge[j]
			if !next {
				d = h.diverge[len(h.diverge)-1-j]
			}
			if (next && d > h.cursor) || (!next && d < h.cursor) {
				to = d
				break
			}
		}
		h.moveTo(to)
	default:
		return nil, false
	}
	return nil, true
}

var divergenceKeys = key.NewBinding(key.WithKeys("n", "N"), key.WithHelp("n/N", "next/previous divergence"))

func (h *historyDiff) help(k keyMap) []helpGroup {
	return []helpGroup{k.navGroup(), {"Diff", []key.Binding{divergenceKeys, k.Back}}, k.globalGroup()}
}

func (h *historyDiff) footer(k keyMap) []key.Binding {
	return []key.Binding{divergenceKeys, k.Down, k.Back}
}

func (h *historyDiff) header(m *Model) string {
	for _, s := range []*diffSide{&h.left, &h.right} {
		switch {
		case s.err != nil:
			return m.st.Error.Render("cannot read " + s.t.WorkflowID + ": " + errorText(s.err))
		case s.loading:
			return m.st.Dim.Render("reading " + s.t.WorkflowID + "…")
		}
	}
	switch {
	case len(h.diverge) == 0:
		return m.st.Dim.Render(fmt.Sprintf("%d events each, aligned: the histories do not diverge", len(h.left.events)))
	}
	first := h.rows[h.diverge[0]]
	return m.st.Warn.Render(fmt.Sprintf("%d of %d rows diverge, first at %s ↔ %s", len(h.diverge), len(h.rows), h.eventID(&h.left, first.a), h.eventID(&h.right, first.b)))
}

func (h *historyDiff) eventID(s *diffSide, i int) string {
	if i < 0 {
		return "—"
	}
	return fmt.Sprintf("#%d", s.events[i].ID)
}

func (h *historyDiff) view(m *Model, w, hgt int) string {
	st := &m.st
	half := max((w-5)/2, 10)
	title := func(s *diffSide) string {
		t := s.t.WorkflowID
		if s.x != nil {
			t += "@" + shortID(s.x.RunID) + " " + statusGlyph(s.x.Status) + " " + statusWord(s.x.Status)
		}
		return fit(t, half)
	}
	var b strings.Builder
	b.WriteString(st.ColHeader.Render("  " + title(&h.left) + " │ " + title(&h.right)))
	if !h.ready() {
		return b.String()
	}
	h.height = max(hgt-1, 1)
	h.moveTo(h.cursor)
	for i := h.offset; i < len(h.rows) && i < h.offset+h.height; i++ {
		r := h.rows[i]
		mid := map[diffKind]string{diffSame: " │ ", diffChanged: " ≠ ", diffLeft: " < ", diffRight: " > "}[r.kind]
		gutter := "  "
		if i == h.cursor {
			gutter = "▶ "
		}
		line := gutter + h.cell(&h.left, r.a, half) + mid + h.cell(&h.right, r.b, half)
		switch {
		case i == h.cursor:
			line = st.Selected.Render(line)
		case r.kind != diffSame:
			line = st.Warn.Render(line)
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}

// cell is one side of a row: the event's id, type and narrated line.
func (h *historyDiff) cell(s *diffSide, i, w int) string {
	if i < 0 {
		return strings.Repeat(" ", w)
	}
	e := s.events[i]
	mark := "  "
	if s.fails[i] {
		mark = "✗ "
	}
	typ := fmt.Sprintf("%-24s", e.Type)
	if w < 60 { // narrow: no column of types, the details follow the type
		typ = string(e.Type)
	}
	return fit(fmt.Sprintf("%-5s%s%s %s", fmt.Sprintf("#%d", e.ID), mark, typ, strings.TrimSpace(s.lines[i])), w)
}
