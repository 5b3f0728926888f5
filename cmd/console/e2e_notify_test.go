package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
)

// Notification rules with the real binaries: the engine refuses a rule
// change from a role the catalog does not allow (an approver), accepts an
// operator's, and then notifies each failed order once on NATS — which an
// operator may subscribe to — and on a local webhook; describe shows the
// deliveries and delete needs --yes.
func TestNotifyRulesEndToEnd(t *testing.T) {
	e := startEngine(t, "--notify-every", "200ms")
	user := func(name, role string) string {
		creds := filepath.Join(e.data, "e2e-"+name+".nk")
		e.usersCmd(t, false, "add", name, "--role", role, "-o", creds)
		return creds
	}
	ops, approver := user("ops", "operator"), user("ann", "approver")
	var mu sync.Mutex
	posts := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			WorkflowID string `json:"workflow_id"`
			Text       string `json:"text"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &m); err != nil || !strings.Contains(m.Text, "foreman reset") {
			t.Errorf("webhook body %s", body)
		}
		mu.Lock()
		posts[m.WorkflowID]++
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	add := []string{"notify", "add", "orders-failed", "--on", "failed", "-q", "type:OrderFulfillment", "--webhook", hook.URL}

	r := e.fm(t, "ann", nil, append([]string{"--creds", approver}, add...)...)
	if r.code != 4 || !strings.Contains(r.stderr, "may not notify add") {
		t.Fatalf("an approver adding a rule: %s", r)
	}
	e.fails(t, "ops", 2, "engine's own namespace", "--creds", ops, "notify", "add", "x", "--on", "failed", "--subject", "fm.t.wf.orders")
	e.ok(t, "ops", append([]string{"--creds", ops}, add...)...)

	sub := e.dialAs(t, ops)
	nmu := sync.Mutex{}
	got := map[string]int{}
	s, err := sub.Conn.Subscribe("fm.notify.>", func(m *nats.Msg) {
		var msg struct {
			WorkflowID string `json:"workflow_id"`
		}
		_ = json.Unmarshal(m.Data, &msg)
		nmu.Lock()
		got[msg.WorkflowID]++
		nmu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe()
	for i := range 2 {
		id := fmt.Sprintf("nfail-%d", i)
		if _, err := e.client.Start(t.Context(), engine.StartOptions{ID: id, TaskQueue: "orders"}, "OrderFulfillment",
			map[string]any{"order_id": id, "amount": 80, "fail_at": "ship"}); err != nil {
			t.Fatal(err)
		}
	}
	want := "map[nfail-0:1 nfail-1:1]"
	waitFor(t, "both failed orders notified", 60*time.Second, func() (bool, string) {
		nmu.Lock()
		n := fmt.Sprint(got)
		nmu.Unlock()
		mu.Lock()
		p := fmt.Sprint(posts)
		mu.Unlock()
		return n == want && p == want, "nats " + n + ", webhook " + p
	})
	time.Sleep(time.Second) // five more evaluations
	nmu.Lock()
	if fmt.Sprint(got) != want {
		t.Errorf("later, NATS got %v", got)
	}
	nmu.Unlock()
	out := e.ok(t, "ops", "--creds", ops, "notify", "describe", "orders-failed")
	if !strings.Contains(out.stdout, "Sent:       2 (0 failed)") || !strings.Contains(out.stdout, "foreman reset nfail-0 --to last-good") {
		t.Errorf("describe:\n%s", out.stdout)
	}
	e.fails(t, "ops", 4, "--yes", "--creds", ops, "notify", "delete", "orders-failed")
	e.ok(t, "ops", "--creds", ops, "notify", "delete", "orders-failed", "--yes")
	e.ok(t, "ops", "--creds", ops, "stuck", "--after", "1s")
}
