package tui

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// Child workflows in the console: the run's parent and children in the
// overview, a tree of the whole family (t in the detail view, navigable,
// enter opens a run), and the list's H, which hides child runs by adding
// the roots-only condition to the search (-parent_id:*, or
// ParentWorkflowId IS NULL in the Temporal dialect) and removes it again.

// treeMaxNodes bounds the runs a tree reads (one history read each).
const treeMaxNodes = 300

// treeNode is one run of a family tree, in display order.
type treeNode struct {
	depth   int
	wf, run string
	typ     string
	status  engine.Status
	policy  engine.ParentClosePolicy
	note    string // why the run could not be read, or "…" for a cut tree
}

type treeMsg struct {
	addr
	seq   int
	nodes []treeNode
	err   error
}

// treeScreen shows the family of a run: from the root of its tree down.
type treeScreen struct {
	id      int
	wf, run string // the run it was opened from
	nodes   []treeNode
	cursor  int
	offset  int
	loading bool
	err     error
	seq     int
}

func newTreeScreen(m *Model, wf, run string) *treeScreen {
	return &treeScreen{id: m.id(), wf: wf, run: run}
}

func (t *treeScreen) sid() int      { return t.id }
func (t *treeScreen) acts() bool    { return false }
func (t *treeScreen) crumb() string { return "tree of " + t.wf }

func (t *treeScreen) load(m *Model) tea.Cmd {
	t.loading = true
	t.seq++
	b, ctx, timeout, id, seq, wf, run := m.b, m.ctx, m.opts.RequestTimeout, t.id, t.seq, t.wf, t.run
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, 2*timeout)
		defer cancel()
		nodes, err := familyTree(c, b, wf, run)
		return treeMsg{addr: addr{id}, seq: seq, nodes: nodes, err: err}
	}
}

func (t *treeScreen) refresh(m *Model) tea.Cmd { return t.load(m) }
func (t *treeScreen) resize(*Model) tea.Cmd    { return nil }

// familyTree reads the tree run (wf, run) is in, from its root down,
// depth first in the order each parent started its children.
func familyTree(ctx context.Context, b Inspector, wf, run string) ([]treeNode, error) {
	events, err := b.History(ctx, wf, run)
	if err != nil {
		return nil, err
	}
	x := engine.Summarize(events)
	if p := x.Parent; p != nil {
		if events, err := b.History(ctx, p.RootWorkflowID, p.RootRunID); err == nil {
			x = engine.Summarize(events)
		}
	}
	var nodes []treeNode
	var walk func(x *engine.Execution, depth int)
	walk = func(x *engine.Execution, depth int) {
		nodes = append(nodes, treeNode{depth: depth, wf: x.WorkflowID, run: x.RunID, typ: x.Type, status: x.Status})
		for _, c := range x.Children {
			if len(nodes) >= treeMaxNodes {
				nodes = append(nodes, treeNode{depth: depth + 1, note: fmt.Sprintf("… more than %d runs", treeMaxNodes)})
				return
			}
			events, err := b.History(ctx, c.WorkflowID, c.RunID)
			if err != nil {
				nodes = append(nodes, treeNode{depth: depth + 1, wf: c.WorkflowID, run: c.RunID, typ: c.Type, status: c.Status, policy: c.ParentClosePolicy, note: errorText(err)})
				continue
			}
			cx := engine.Summarize(events)
			walk(cx, depth+1)
			nodes[len(nodes)-1-countBelow(nodes, depth+1)].policy = c.ParentClosePolicy
		}
	}
	walk(x, 0)
	return nodes, nil
}

// countBelow counts the nodes at the end of nodes deeper than depth (the
// subtree just walked, below its own node).
func countBelow(nodes []treeNode, depth int) int {
	n := 0
	for i := len(nodes) - 1; i >= 0 && nodes[i].depth > depth; i-- {
		n++
	}
	return n
}

func (t *treeScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	if msg, ok := msg.(treeMsg); ok && msg.seq == t.seq {
		t.loading, t.err = false, msg.err
		if msg.err == nil {
			first := t.nodes == nil
			t.nodes = msg.nodes
			if first { // start on the run the tree was opened from
				for i, n := range t.nodes {
					if n.wf == t.wf {
						t.cursor = i
					}
				}
			}
			t.cursor = min(t.cursor, max(len(t.nodes)-1, 0))
		}
	}
	return nil
}

func (t *treeScreen) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	ks := m.keys
	if moveCursor(ks, k, &t.cursor, len(t.nodes)) {
		return nil, true
	}
	var n treeNode
	if t.cursor < len(t.nodes) {
		n = t.nodes[t.cursor]
	}
	switch {
	case key.Matches(k, ks.Refresh):
		return t.load(m), true
	case key.Matches(k, ks.Open) && n.wf != "":
		return m.push(newDetail(m, n.wf, n.run)), true
	case key.Matches(k, ks.Copy) && n.wf != "":
		return m.copyText(n.wf, "workflow id "+n.wf), true
	}
	return nil, false
}

func (t *treeScreen) header(m *Model) string {
	if len(t.nodes) == 0 {
		return ""
	}
	return m.st.Dim.Render(fmt.Sprintf("%d runs under %s", len(t.nodes)-1, t.nodes[0].wf))
}

func (t *treeScreen) view(m *Model, w, h int) string {
	switch {
	case t.err != nil:
		return m.st.Error.Render(fit("  cannot read the tree of "+t.wf+": "+errorText(t.err), w))
	case t.nodes == nil:
		return m.st.Dim.Render("  loading the tree of " + t.wf + "…")
	}
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+h {
		t.offset = t.cursor - h + 1
	}
	var lines []string
	for i := t.offset; i < len(t.nodes) && i < t.offset+h; i++ {
		lines = append(lines, t.line(m, t.nodes[i], i == t.cursor, w))
	}
	return strings.Join(lines, "\n")
}

func (t *treeScreen) line(m *Model, n treeNode, sel bool, w int) string {
	indent := strings.Repeat("  ", n.depth)
	if n.depth > 0 {
		indent = strings.Repeat("  ", n.depth-1) + "└ "
	}
	mark := "  "
	if sel {
		mark = "▶ " // the cursor, not by colour alone
	}
	if n.wf == "" {
		return fit(mark+indent+n.note, w)
	}
	s := mark + indent + statusGlyph(n.status) + " " + n.wf + "  " + n.typ + "  " + statusWord(n.status) + "  run " + shortID(n.run)
	if n.policy != "" {
		s += "  on parent close: " + string(n.policy)
	}
	if n.note != "" {
		s += "  (" + n.note + ")"
	}
	s = fit(s, w)
	if sel {
		return m.st.Selected.Render(s)
	}
	return s
}

func (t *treeScreen) help(k keyMap) []helpGroup {
	return []helpGroup{k.navGroup(), {"Tree", []key.Binding{k.Open, k.Copy, k.Refresh}}, k.globalGroup()}
}

func (t *treeScreen) footer(k keyMap) []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Open, k.Back}
}

// familyRows adds the run's parent and children to the overview.
func familyRows(m *Model, x *engine.Execution, row func(label, value string)) {
	if p := x.Parent; p != nil {
		v := p.WorkflowID + m.st.Dim.Render(" run "+shortID(p.RunID)+" · on parent close: "+string(p.ParentClosePolicy))
		if p.RootWorkflowID != p.WorkflowID {
			v += m.st.Dim.Render(" · root " + p.RootWorkflowID)
		}
		row("Parent", v)
	}
	if len(x.Children) > 0 {
		counts := map[engine.Status]int{}
		var order []engine.Status
		for _, c := range x.Children {
			if counts[c.Status] == 0 {
				order = append(order, c.Status)
			}
			counts[c.Status]++
		}
		var parts []string
		for _, s := range order {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], statusWord(s)))
		}
		row("Children", fmt.Sprintf("%d (%s)", len(x.Children), strings.Join(parts, ", "))+m.st.Dim.Render(" · t shows the tree"))
	}
	if x.Parent != nil && len(x.Children) == 0 {
		row("", m.st.Dim.Render("t shows the tree"))
	}
}

// The roots-only condition the list's H adds or removes, in each dialect.
const (
	rootsOnlyQS       = "-parent_id:*"
	rootsOnlyTemporal = "ParentWorkflowId IS NULL"
)

var rootsOnlyRE = regexp.MustCompile(`(?i)(\s+AND\s+)?` + regexp.QuoteMeta(rootsOnlyTemporal) + `(\s+AND\s+)?`)

// toggledChildren is query q with the roots-only condition added, or
// removed when q has it.
func toggledChildren(q string) string {
	q = strings.TrimSpace(q)
	switch {
	case strings.Contains(q, rootsOnlyQS):
		return strings.Join(strings.Fields(strings.Replace(q, rootsOnlyQS, "", 1)), " ")
	case rootsOnlyRE.MatchString(q):
		return strings.TrimSpace(rootsOnlyRE.ReplaceAllStringFunc(q, func(s string) string {
			if strings.Count(strings.ToUpper(s), " AND ") == 2 {
				return " AND "
			}
			return ""
		}))
	case q == "":
		return rootsOnlyQS
	case isTemporalDialect(q):
		if loc := orderByRE.FindStringIndex(q); loc != nil {
			return strings.TrimSpace(q[:loc[0]]) + " AND " + rootsOnlyTemporal + " " + q[loc[0]:]
		}
		return q + " AND " + rootsOnlyTemporal
	}
	return q + " " + rootsOnlyQS
}
