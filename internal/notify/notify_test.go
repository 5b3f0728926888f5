package notify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/indextest"
	"github.com/foremanhq/foreman/internal/notify"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// A rule fires exactly once per run into a NATS subscriber and a local
// HTTP receiver: with two engines evaluating it at once, and again after
// both stopped and a third started over the same buckets and a reopened
// index; a run failing later is notified once more.
func TestRuleFiresOncePerRun(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, ok)
	a, stopA := e.service("engine-a", notify.WebhookOptions{})
	_, stopB := e.service("engine-b", notify.WebhookOptions{})
	e.addRule(a, map[string]any{"name": "orders-failed", "condition": "failed", "query": "type:failing", "webhook": rc.URL})
	nats := e.subscribe("fm.notify.orders-failed")
	for i := range 3 {
		e.start(failing, fmt.Sprintf("order-%d", i))
	}
	e.start(approving, "not-failed") // matches no failed condition
	want := map[string]int{"order-0": 1, "order-1": 1, "order-2": 1}
	settle := func(what string) {
		t.Helper()
		jstest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
			if g, w := fmt.Sprint(nats.byRun()), fmt.Sprint(want); g != w {
				return fmt.Errorf("%s: NATS got %s, want %s", what, g, w)
			}
			if g, w := fmt.Sprint(rc.byRun()), fmt.Sprint(want); g != w {
				return fmt.Errorf("%s: webhook got %s, want %s", what, g, w)
			}
			return nil
		})
		// Many more evaluations (every 50ms, two engines) change nothing.
		time.Sleep(time.Second)
		if g, w := fmt.Sprint(nats.byRun()), fmt.Sprint(want); g != w {
			t.Fatalf("%s, later: NATS got %s, want %s", what, g, w)
		}
		if g, w := fmt.Sprint(rc.byRun()), fmt.Sprint(want); g != w {
			t.Fatalf("%s, later: webhook got %s, want %s", what, g, w)
		}
	}
	settle("two engines")

	nats.mu.Lock()
	m := nats.msgs[0]
	nats.mu.Unlock()
	if m.Rule != "orders-failed" || m.Condition != "failed" || m.RunID == "" || !strings.Contains(m.Reason, "card declined") ||
		m.Command != "foreman reset "+m.WorkflowID+" --to last-good" || !strings.Contains(m.Text, m.WorkflowID) {
		t.Errorf("notification %+v", m)
	}
	ds, err := e.bucket.Deliveries(e.ctx, "orders-failed")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("%d deliveries recorded, want 3: %+v", len(ds), ds)
	}
	jstest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		ds, _ := e.bucket.Deliveries(e.ctx, "orders-failed")
		for _, d := range ds {
			if d.NATS != "ok" || d.Webhook != "ok" || d.WebhookAttempts != 1 {
				return fmt.Errorf("delivery %+v", d)
			}
		}
		return nil
	})

	// Restart: both engines stop, the index is reopened from disk, a new
	// engine starts with nothing in memory.
	stopA()
	stopB()
	e.restartIndex()
	e.service("engine-c", notify.WebhookOptions{})
	settle("after a restart")
	e.start(failing, "order-3")
	want["order-3"] = 1
	settle("a run failing after the restart")
}

// A rule pages about what happens after it exists, unless asked to
// backfill; stuck and approval conditions fire with the reason and the
// command that fits.
func TestConditionsAndBackfill(t *testing.T) {
	store, ix, b := newBuckets(t)
	ctx := context.Background()
	hour := time.Now().Add(-time.Hour - 30*time.Second)
	ev := indextest.Ev
	indextest.Write(t, store, indextest.Run{ID: "charge-1", Queue: "q", At: hour, Events: []engine.Event{
		ev(engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
		ev(engine.EventActivityScheduled, &engine.ActivityScheduled{Seq: 1, ActivityType: "Charge", TaskQueue: "q"}),
		ev(engine.EventActivityAttemptFailed, &engine.ActivityAttemptFailed{Seq: 1, Attempt: 3,
			Failure: &engine.Failure{Type: "CardDeclined", Message: "declined"}, NextAttempt: time.Now().Add(time.Hour)}),
	}})
	indextest.Write(t, store, indextest.Run{ID: "refund-1", Queue: "q", At: hour, Events: []engine.Event{
		ev(engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
		ev(engine.EventApprovalRequested, &engine.ApprovalRequested{Seq: 1, Name: "manager"}),
	}})
	ix.CatchUp(t)
	svc := notify.New(notify.Options{Store: b, Search: ix.Search, Publish: store.Conn().Publish})
	put := func(rule string) {
		t.Helper()
		if _, err := svc.Put(ctx, "tester", []byte(rule)); err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
	}
	put(`{"name":"stuck-new","condition":"stuck","after":"10m"}`)
	put(`{"name":"stuck-all","condition":"stuck","after":"10m","backfill":true}`)
	put(`{"name":"approvals","condition":"approval","after":"30m","backfill":true,"query":"workflow_id:refund-*"}`)
	svc.Evaluate(ctx)
	check := func(rule string, want ...string) {
		t.Helper()
		ds, err := b.Deliveries(ctx, rule)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, d.WorkflowID+": "+d.Reason+" | "+d.Command)
		}
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s delivered:\n%s\nwant:\n%s", rule, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check("stuck-new") // stuck since before the rule existed
	check("stuck-all", "charge-1: stuck: no progress for 1h, activity Charge retrying (CardDeclined: declined) | foreman activity retry charge-1 --activity Charge")
	check("approvals", `refund-1: approval "manager" waiting for 1h | foreman approve refund-1 manager --comment '…'`)
}

// Bad rules are refused before anything is stored.
func TestRuleValidation(t *testing.T) {
	store, _ := jstest.Start(t)
	ix := indextest.Start(t, store, t.TempDir())
	b, err := jetstream.OpenNotify(context.Background(), store.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	svc := notify.New(notify.Options{Store: b, Search: ix.Search, Publish: store.Conn().Publish})
	for rule, want := range map[string]string{
		`{"name":"Bad Name","condition":"failed"}`:                         "rule name",
		`{"name":"x","condition":"sometimes"}`:                             "condition",
		`{"name":"x","condition":"failed","after":"5m"}`:                   "--after applies",
		`{"name":"x","condition":"stuck","after":"soon"}`:                  "--after",
		`{"name":"x","condition":"failed","subject":"fm.h.run-1"}`:         "engine's own namespace",
		`{"name":"x","condition":"failed","subject":"$KV.fm_users.admin"}`: "engine's own namespace",
		`{"name":"x","condition":"failed","subject":"alerts.*"}`:           "literal NATS subject",
		`{"name":"x","condition":"failed","webhook":"file:///etc/passwd"}`: "http or https",
		`{"name":"x","condition":"failed","query":"statuss:failed"}`:       "unknown field",
		`{"name":"x","condition":"failed","surprise":1}`:                   "unknown field",
	} {
		_, err := svc.Put(context.Background(), "tester", []byte(rule))
		if err == nil || !strings.Contains(err.Error(), want) || !errorsIsInvalid(err) {
			t.Errorf("%s: %v, want an invalid-argument error saying %q", rule, err, want)
		}
	}
	if rs, _ := b.Rules(context.Background()); len(rs) != 0 {
		t.Errorf("refused rules were stored: %+v", rs)
	}
	// A subject of one's own, or under fm.notify., is fine; dead letters
	// are accepted before pause's fields exist.
	for _, rule := range []string{`{"name":"own","condition":"failed","subject":"alerts.payments"}`,
		`{"name":"dl","condition":"dead_lettered","query":"type:Order"}`} {
		if _, err := svc.Put(context.Background(), "tester", []byte(rule)); err != nil {
			t.Errorf("%s: %v", rule, err)
		}
	}
}

func errorsIsInvalid(err error) bool { return errors.Is(err, engine.ErrInvalidArgument) }

// The receiver of the test notification gets it at once.
func TestTestNotification(t *testing.T) {
	e := newEnv(t)
	fails := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	svc, _ := e.service("engine", notify.WebhookOptions{})
	e.addRule(svc, map[string]any{"name": "t", "condition": "failed", "webhook": fails.URL})
	in := e.subscribe("fm.notify.t")
	_, err := svc.Test(e.ctx, "t")
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("test with a failing webhook: %v", err)
	}
	jstest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		in.mu.Lock()
		defer in.mu.Unlock()
		if len(in.msgs) != 1 || !in.msgs[0].Test {
			return fmt.Errorf("test notifications on NATS: %+v", in.msgs)
		}
		return nil
	})
	if _, err := svc.Test(e.ctx, "nope"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("test of a missing rule: %v", err)
	}
}

// An evaluation sends at most MaxPerRule notifications; the next ones
// send the rest, each run once.
func TestEvaluationIsCapped(t *testing.T) {
	store, ix, b := newBuckets(t)
	ctx := context.Background()
	for i := range 5 {
		indextest.Write(t, store, indextest.Run{ID: fmt.Sprintf("f-%d", i), Queue: "q", At: time.Now().Add(-time.Minute), Closed: true,
			Events: []engine.Event{indextest.Ev(engine.EventWorkflowFailed, &engine.WorkflowFailed{Seq: 1, Failure: &engine.Failure{Type: "X", Message: "x"}})}})
	}
	ix.CatchUp(t)
	svc := notify.New(notify.Options{Store: b, Search: ix.Search, Publish: store.Conn().Publish, MaxPerRule: 2})
	if _, err := svc.Put(ctx, "tester", []byte(`{"name":"f","condition":"failed","backfill":true}`)); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{2, 4, 5, 5} {
		svc.Evaluate(ctx)
		ds, err := b.Deliveries(ctx, "f")
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != want {
			t.Fatalf("after evaluation %d: %d delivered, want %d", i+1, len(ds), want)
		}
	}
	if got := svc.Stats.Published.Load(); got != 5 {
		t.Fatalf("%d published, want 5", got)
	}
}
