package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/operator/stuck"
)

// diagnosisFixture is what stuck.Diagnose returns for a few groups (the
// grouping itself is tested on a real index in package operator/stuck).
func diagnosisFixture() stuck.Diagnosis {
	g := func(c stuck.Cause, n uint64, title, action, cmd, q string) stuck.Group {
		return stuck.Group{Cause: c, Count: n, Title: title, Action: action, Command: cmd, Query: q, Hint: "hint of " + title, Sample: []string{"order-7"}}
	}
	dead := g(stuck.DeadLettered, 3, "dead-lettered: activity Charge ran out of retries", "activity-retry", "foreman activity retry -q 'q-dl' --activity Charge", "q-dl")
	dead.Activity = "Charge"
	return stuck.Diagnosis{After: "10m", PersonAfter: "10m", Total: 9, Groups: []stuck.Group{
		g(stuck.NonDeterminism, 2, "workflow task failing: non-determinism", "reset", "foreman reset -q 'q-nd' --to last-good", "q-nd"),
		dead,
		g(stuck.OnPerson, 4, "waiting on a person: approval manager", "approve", "foreman approve -q 'q-ap' manager --comment '…'", "status:running waiting_on:approval"),
	}}
}

// :stuck's D opens the diagnosis: the groups with their counts; enter
// lists a group's runs by its query, y copies its command, x opens the
// group's action over every run of the group (approve here), and an
// action this console has no key for says to run it from the CLI.
func TestDiagnosisScreen(t *testing.T) {
	f := newFakeBackend(testClock)
	h := newHarness(t, f, Options{})
	h.press(":")
	h.typeText("stuck")
	h.press("enter", "D")
	s, ok := h.m.top().(*diagnosisScreen)
	if !ok {
		t.Fatalf("D on :stuck opened %T", h.m.top())
	}
	h.send(diagnosisMsg{addr: addr{s.id}, d: diagnosisFixture()})
	h.wantScreenContains("9 runs stuck > 10m in 3 groups", "nondeterminism", "dead_lettered", "waiting_on_person",
		"workflow task failing: non-determinism", "$ foreman reset -q 'q-nd' --to last-good", "e.g. order-7")

	if testing.Verbose() {
		t.Log("\n" + h.screen())
	}
	// Reset goes one run at a time in the console: x copies the CLI line.
	h.press("x")
	if len(h.clipboard) != 1 || !strings.Contains(h.clipboard[0], "foreman reset -q 'q-nd'") {
		t.Fatalf("x on the reset group copied %q", h.clipboard)
	}
	// Dead letters: x retries the group's activity in every run of it, a
	// batch over the group's query, after a confirmation naming it.
	h.press("j", "x")
	c, ok := h.m.modal.(*confirmDialog)
	if !ok {
		t.Fatalf("x on the dead letters opened %T (clipboard %q)", h.m.modal, h.clipboard)
	}
	if c.a.kind != actActivityRetry || c.a.activity != "Charge" || !c.a.scope.all || c.a.scope.query != "q-dl" || c.a.scope.count != 3 {
		t.Fatalf("dead-letter action %+v, want activity retry of Charge over q-dl", c.a)
	}
	h.wantScreenContains("Runs activity Charge's next attempt now")
	h.press("esc")
	h.press("y")
	if len(h.clipboard) != 2 || !strings.Contains(h.clipboard[1], "--activity Charge") {
		t.Fatalf("y copied %q", h.clipboard)
	}
	// Approve: a batch over the group's query.
	h.press("j", "x")
	d, ok := h.m.modal.(*decideDialog)
	if !ok {
		t.Fatalf("x on the approvals group opened %T", h.m.modal)
	}
	if !d.s.all || d.s.query != "status:running waiting_on:approval" || d.s.count != 4 {
		t.Fatalf("approve scope %+v, want every run of the group's query", d.s)
	}
	h.press("esc")
	// Enter lists the group's runs.
	h.press("enter")
	l, ok := h.m.top().(*runList)
	if !ok || l.query != "status:running waiting_on:approval" || !strings.Contains(l.name, "approval manager") {
		t.Fatalf("enter opened %T %+v", h.m.top(), l)
	}
}

var testNotificationRules []NotificationRule

func (f *fakeBackend) NotificationRules(context.Context) ([]NotificationRule, error) {
	return testNotificationRules, nil
}

// :notifications lists each rule with what it sent and what failed, and
// the selected rule's last deliveries.
func TestNotificationsScreen(t *testing.T) {
	testNotificationRules = []NotificationRule{
		{Name: "orders-failed", Condition: "failed", Describe: "runs that fail -> fm.notify.orders-failed + webhook", EvaluatedAt: testClock.Add(-3 * time.Second),
			Sent: 2, Failed: 1, Last: []NotificationDelivery{
				{At: testClock.Add(-time.Minute), WorkflowID: "order-1", Reason: "failed: CardDeclined", NATS: "ok", Webhook: "failed", Error: "the webhook answered 500 Internal Server Error"},
				{At: testClock.Add(-2 * time.Minute), WorkflowID: "order-2", Reason: "failed: NoCarrier", NATS: "ok", Webhook: "ok"},
			}},
		{Name: "dl", Condition: "dead_lettered", Error: `unknown field "dead_lettered"`},
	}
	t.Cleanup(func() { testNotificationRules = nil })
	h := newHarness(t, newFakeBackend(testClock), Options{})
	h.resize(120, 24)
	h.press(":")
	h.typeText("notifications")
	h.press("enter")
	h.wantScreenContains("2 rules", "2 sent", "✗ 1 failed", "✗ 1 rules failing to evaluate",
		"orders-failed", "last deliveries of orders-failed", "order-1", "webhook failed", "answered 500", "order-2",
		`✗ unknown field "dead_lettered"`)
	if testing.Verbose() {
		t.Log("\n" + h.screen())
	}
	h.press("j")
	h.wantScreenContains("last deliveries of dl", "none yet")
}
