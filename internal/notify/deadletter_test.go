package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/internal/notify"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// A dead_lettered rule fires once per run whose activity ran out of
// retries under the pause policy (two engines evaluating it every 50ms),
// on NATS and to a webhook, naming the activity and the command to retry
// it; a run whose activity ran out of the same retries without the pause
// policy failed, and the rule does not fire for it.
func TestDeadLetteredRule(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, ok)
	a, _ := e.service("engine-a", notify.WebhookOptions{})
	e.service("engine-b", notify.WebhookOptions{})
	e.addRule(a, map[string]any{"name": "dead-letters", "condition": "dead_lettered", "webhook": rc.URL})
	nats := e.subscribe("fm.notify.dead-letters")
	runs := map[string]string{} // workflow id -> run id
	for _, id := range []string{"charge-1", "charge-2"} {
		runs[id] = e.start(deadLettering, id).RunID
	}
	e.start(retriesThenFails, "charge-failed")

	// The failed run has reached the index as failed, and the dead letters
	// as dead-lettered: the rule has had its chance at all three.
	jstest.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		for q, want := range map[string]uint64{
			"workflow_id:charge-failed execution_status:failed": 1,
			"dead_lettered:true status:running":                 2,
		} {
			res, err := e.ix.Search(e.ctx, searchapi.SearchRequest{Query: q, Size: 1})
			if err != nil || res.Total != want {
				return fmt.Errorf("%s: %d runs (%v), want %d", q, res.Total, err, want)
			}
		}
		return nil
	})
	want := fmt.Sprint(map[string]int{"charge-1": 1, "charge-2": 1})
	check := func() error {
		if g := fmt.Sprint(nats.byRun()); g != want {
			return fmt.Errorf("NATS got %s, want %s", g, want)
		}
		if g := fmt.Sprint(rc.byRun()); g != want {
			return fmt.Errorf("webhook got %s, want %s", g, want)
		}
		return nil
	}
	jstest.CheckFor(t, 20*time.Second, 50*time.Millisecond, check)
	// Many more evaluations (every 50ms, two engines) change nothing.
	time.Sleep(time.Second)
	if err := check(); err != nil {
		t.Fatalf("later: %v", err)
	}

	nats.mu.Lock()
	msgs := append([]notify.Message(nil), nats.msgs...)
	nats.mu.Unlock()
	for _, m := range msgs {
		cmd := "foreman activity retry " + m.WorkflowID + " --activity gatewayDown"
		if m.Rule != "dead-letters" || m.Condition != "dead_lettered" || m.RunID != runs[m.WorkflowID] || m.Type != "deadLettering" ||
			!strings.Contains(m.Reason, "activity gatewayDown") || !strings.Contains(m.Reason, "GatewayTimeout") ||
			m.Command != cmd || !strings.Contains(m.Text, m.WorkflowID) || !strings.Contains(m.Text, cmd) {
			t.Errorf("notification %+v, want the activity gatewayDown and %q", m, cmd)
		}
	}
	ds, err := e.bucket.Deliveries(e.ctx, "dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("%d deliveries recorded, want 2: %+v", len(ds), ds)
	}
}
