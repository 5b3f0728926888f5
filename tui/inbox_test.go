package tui

import (
	"strings"
	"testing"
)

func openInbox(h *harness) *approvalsScreen {
	h.press(":")
	h.typeText("approvals")
	h.press("enter")
	return h.m.top().(*approvalsScreen)
}

func inboxOrder(s *approvalsScreen) string {
	var out []string
	for _, r := range s.rows {
		out = append(out, r.a.Name)
	}
	return strings.Join(out, " ")
}

// TestInboxSearchesTheApprovals: / in the inbox matches the approvals'
// own words (name, description, approvers, workflow id, type), not the
// runs' full text; field:word narrows, -word excludes (issue 19, finding 6:
// /director matched runs waiting on a manager).
func TestInboxSearchesTheApprovals(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	s := openInbox(h)
	searches := len(h.b.searches)
	for q, want := range map[string]string{
		"carol":             "risk",
		"approver:bob":      "ship-order",
		"refund":            "finance risk",
		"refund -fraud":     "finance",
		`"card ending"`:     "finance",
		"type:orderwork":    "ship-order",
		"director":          "",
		"workflow:order-10": "ship-order",
	} {
		h.press("/")
		h.press("ctrl+u")
		h.typeText(q)
		h.press("enter")
		if got := inboxOrder(s); got != want {
			t.Errorf("/%s: %q, want %q", q, got, want)
		}
	}
	if len(h.b.searches) != searches {
		t.Errorf("filtering asked the index %d times", len(h.b.searches)-searches)
	}
	h.press("/", "ctrl+u")
	h.typeText("manager:x")
	h.press("enter")
	qb, ok := h.m.modal.(*queryBar)
	if !ok || qb.err == nil || !strings.Contains(qb.err.Error(), `"manager" is not one of approval, description, approver, workflow or type`) {
		t.Fatalf("unknown field: modal %T", h.m.modal)
	}
	h.wantScreenContains("the inbox searches approvals: \"manager\" is not one of")
}

// TestInboxSortsAndMarksAll: o/O and 1-9 sort the inbox, * marks every
// approval shown (again: clears).
func TestInboxSortsAndMarksAll(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.resize(160, 48)
	s := openInbox(h)
	if got := inboxOrder(s); got != "finance risk ship-order" {
		t.Fatalf("default order %q, want oldest first", got)
	}
	h.wantScreenContains("WAITING▼") // longest wait first
	for _, step := range []struct{ key, order, header string }{
		{"O", "ship-order risk finance", "WAITING▲"},
		{"3", "finance risk ship-order", "APPROVAL▲"}, // the third column, A to Z
		{"3", "ship-order risk finance", "APPROVAL▼"},
		{"o", "risk finance ship-order", "DESCRIPTION▲"},
	} {
		h.press(step.key)
		if got := inboxOrder(s); got != step.order {
			t.Fatalf("%s: %q, want %q", step.key, got, step.order)
		}
		h.wantScreenContains(step.header)
	}
	h.press("/")
	h.typeText("refund")
	h.press("enter", "*")
	if len(s.marks) != 2 {
		t.Fatalf("* marked %d of the 2 shown", len(s.marks))
	}
	h.wantScreenContains("2 marked")
	h.press("*")
	if len(s.marks) != 0 {
		t.Fatalf("* again left %d marks", len(s.marks))
	}
}

// TestHomeClearsTheSearch: :executions is every execution, whatever the
// first list was last searched for; a palette view's crumbs do not show a
// search it does not apply.
func TestHomeClearsTheSearch(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.press("/")
	h.typeText("type:RefundWorkflow")
	h.press("enter")
	if h.list().win.total != 2 {
		t.Fatalf("search: %d", h.list().win.total)
	}
	h.press(":")
	h.typeText("failed")
	h.press("enter")
	if strings.Contains(strings.Split(h.screen(), "\n")[2], "RefundWorkflow") {
		t.Fatalf("crumbs show a search :failed does not apply:\n%s", h.screen())
	}
	h.press(":")
	h.typeText("executions")
	h.press("enter")
	if l := h.list(); l.query != "" || l.win.total != 11 {
		t.Fatalf("home: query %q, %d matches", l.query, l.win.total)
	}
	h.wantScreenContains("11 matches")
}

// TestFooterKeepsHelpAndSaysWhatQDoes: ? help is always in the footer,
// even at 80 columns, and q is "quit" on the first screen and "back"
// deeper, in the footer and in ?, which offers ctrl+c to quit and a
// legend of the glyphs.
func TestFooterKeepsHelpAndSaysWhatQDoes(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{})
	h.resize(80, 24)
	footer := func() string { l := strings.Split(h.screen(), "\n"); return l[len(l)-1] }
	if f := footer(); !strings.HasSuffix(strings.TrimSpace(f), "? help  q quit") {
		t.Fatalf("footer %q", f)
	}
	h.press("enter") // a run's detail
	if f := footer(); !strings.HasSuffix(strings.TrimSpace(f), "? help  esc/q back") {
		t.Fatalf("detail footer %q", f)
	}
	h.press("?")
	h.wantScreenContains("esc/q    back")
	for range 20 {
		h.press("j")
	}
	h.wantScreenContains("ctrl+c   quit", "Legend", "⊘        canceled", "↻        continued")
	h.press("x")
	if h.m.modal != nil {
		t.Fatal("help did not close")
	}
	h.press("q")
	if len(h.m.stack) != 1 {
		t.Fatal("q did not go back")
	}
}
