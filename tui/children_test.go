package tui

import (
	"strings"
	"testing"

	"github.com/foremanhq/foreman/engine"
)

// family gives b a root with children a and b, and a grandchild a/x.
func family(b *fakeBackend) {
	root := &engine.ParentRef{RootWorkflowID: "root", RootRunID: "r0"}
	start := func(wf, run string, parent *engine.ParentRef) engine.Event {
		return engine.Event{ID: 1, Type: engine.EventWorkflowStarted, Time: testClock, Attrs: &engine.WorkflowStarted{
			WorkflowID: wf, RunID: run, WorkflowType: "Trip", TaskQueue: "q", Parent: parent}}
	}
	child := func(id int64, seq int64, wf, run string) []engine.Event {
		return []engine.Event{
			{ID: id, Type: engine.EventStartChildWorkflowRequested, Time: testClock, Attrs: &engine.StartChildWorkflowRequested{
				Seq: seq, WorkflowID: wf, RunID: run, WorkflowType: "Trip", TaskQueue: "q", ParentClosePolicy: engine.ParentCloseAbandon}},
			{ID: id + 1, Type: engine.EventChildWorkflowStarted, Time: testClock, Attrs: &engine.ChildWorkflowStarted{Seq: seq, WorkflowID: wf, RunID: run, Attempt: 1}},
		}
	}
	ref := func(wf, run string) *engine.ParentRef {
		r := *root
		r.WorkflowID, r.RunID, r.ParentClosePolicy = wf, run, engine.ParentCloseAbandon
		return &r
	}
	b.histories["r0"] = append(append([]engine.Event{start("root", "r0", nil)}, child(2, 1, "root/a", "r1")...), child(4, 2, "root/b", "r2")...)
	b.histories["r1"] = append([]engine.Event{start("root/a", "r1", ref("root", "r0"))}, child(2, 1, "root/a/x", "r3")...)
	b.histories["r2"] = []engine.Event{start("root/b", "r2", ref("root", "r0"))}
	b.histories["r3"] = []engine.Event{start("root/a/x", "r3", ref("root/a", "r1"))}
}

func TestTreeShowsTheFamilyAndOpensARun(t *testing.T) {
	b := newFakeBackend(testClock)
	family(b)
	h := newHarness(t, b, Options{})
	h.resize(120, 30)
	h.run(h.m.push(newDetail(h.m, "root/a", "r1")))
	h.wantScreenContains("Parent", "root run r0", "Children", "1 (1 running)")
	h.press("t")
	tree, ok := h.m.top().(*treeScreen)
	if !ok {
		t.Fatalf("t opened %T", h.m.top())
	}
	var got []string
	for _, n := range tree.nodes {
		got = append(got, strings.Repeat(" ", n.depth)+n.wf)
	}
	if want := []string{"root", " root/a", "  root/a/x", " root/b"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("tree %q, want %q", got, want)
	}
	if tree.cursor != 1 {
		t.Fatalf("cursor on %d, want the run it was opened from", tree.cursor)
	}
	h.wantScreenContains("└ ● root/a/x", "on parent close: abandon", "3 runs under root")
	h.resize(80, 24)
	h.golden()
	h.press("j", "enter")
	if d := h.detail(); d.wf != "root/a/x" {
		t.Fatalf("enter opened %s", d.wf)
	}
}

func TestHideChildrenToggle(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"", "-parent_id:*"},
		{"-parent_id:*", ""},
		{"type:Order", "type:Order -parent_id:*"},
		{"type:Order -parent_id:* status:running", "type:Order status:running"},
		{"WorkflowType = 'Order'", "WorkflowType = 'Order' AND ParentWorkflowId IS NULL"},
		{"WorkflowType = 'Order' AND ParentWorkflowId IS NULL", "WorkflowType = 'Order'"},
		{"WorkflowType = 'Order' ORDER BY StartTime", "WorkflowType = 'Order' AND ParentWorkflowId IS NULL ORDER BY StartTime"},
		{"ParentWorkflowId IS NULL AND WorkflowType = 'Order'", "WorkflowType = 'Order'"},
		{"WorkflowType = 'A' AND ParentWorkflowId IS NULL AND TaskQueue = 'q'", "WorkflowType = 'A' AND TaskQueue = 'q'"},
	} {
		if got := toggledChildren(c.in); got != c.out {
			t.Errorf("toggle %q: %q, want %q", c.in, got, c.out)
		}
	}
	b := newFakeBackend(testClock)
	h := newHarness(t, b, Options{})
	h.press("H")
	if q := b.searches[len(b.searches)-1].Query; q != "-parent_id:*" {
		t.Fatalf("H searched %q", q)
	}
	if l := h.list(); l.query != "-parent_id:*" {
		t.Fatalf("the list's query is %q", l.query)
	}
	h.press("H")
	if l := h.list(); l.query != "" {
		t.Fatalf("H again left %q", l.query)
	}
}
