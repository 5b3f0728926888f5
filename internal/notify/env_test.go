package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/backoff"
	"github.com/foremanhq/foreman/internal/indextest"
	"github.com/foremanhq/foreman/internal/notify"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

const queue = "notify"

// failing fails at once: the "failed" condition.
func failing(ctx engine.Context, in string) (string, error) {
	return "", errors.New("card declined for " + in)
}

// approving waits on a manager: the "approval" condition.
func approving(ctx engine.Context, in string) (string, error) {
	_, err := engine.AwaitApproval(ctx, "manager", engine.ApprovalOptions{Description: "refund " + in})
	return "", err
}

// gatewayDown always fails with a typed, retryable error.
func gatewayDown(ctx context.Context, in string) error {
	return engine.NewApplicationError("GatewayTimeout", "payment gateway did not answer for "+in, false)
}

// gatewayPolicy retries gatewayDown twice, 10ms apart; pause makes its
// exhaustion a dead letter.
func gatewayPolicy(pause bool) engine.ActivityOptions {
	return engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2, PauseOnExhaustion: pause}}
}

// deadLettering's activity runs out of retries under the pause policy:
// the "dead_lettered" condition (the run stays open, paused).
func deadLettering(ctx engine.Context, in string) (string, error) {
	err := engine.ExecuteActivity(engine.WithActivityOptions(ctx, gatewayPolicy(true)), gatewayDown, in).Get(ctx, nil)
	return "", err
}

// retriesThenFails's activity runs out of the same retries without the
// pause policy: the run fails, it is not dead-lettered.
func retriesThenFails(ctx engine.Context, in string) (string, error) {
	err := engine.ExecuteActivity(engine.WithActivityOptions(ctx, gatewayPolicy(false)), gatewayDown, in).Get(ctx, nil)
	return "", err
}

// env is an engine (services, a worker), its index and notification buckets.
type env struct {
	t      *testing.T
	ctx    context.Context
	store  *jetstream.Store
	nc     *nats.Conn
	client *engine.Client
	ix     *indextest.Index
	ixDir  string
	bucket *jetstream.Notify
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, _ := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	log := slog.New(slog.DiscardHandler)
	done := make(chan struct{})
	go func() { defer close(done); _ = engine.RunServices(ctx, store, log) }()
	w := engine.NewWorker(store, queue, engine.WorkerOptions{Logger: log, ShutdownTimeout: time.Second})
	for _, err := range []error{w.RegisterWorkflow(failing), w.RegisterWorkflow(approving),
		w.RegisterWorkflow(deadLettering), w.RegisterWorkflow(retriesThenFails), w.RegisterActivity(gatewayDown)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(); cancel(); <-done })
	b, err := jetstream.OpenNotify(ctx, store.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &env{t: t, ctx: ctx, store: store, nc: store.Conn(), client: engine.NewClient(store, engine.ClientOptions{Identity: "tester"}),
		ix: indextest.Start(t, store, dir), ixDir: dir, bucket: b}
}

// restartIndex closes the index and opens it again from its directory,
// as an engine restart does.
func (e *env) restartIndex() {
	e.ix.Stop()
	e.ix = indextest.Start(e.t, e.store, e.ixDir)
}

// service starts a notifier (one "engine"); stop ends it.
func (e *env) service(name string, wh notify.WebhookOptions) (svc *notify.Service, stop func()) {
	e.t.Helper()
	if wh.Backoff.Initial == 0 {
		wh.Backoff = backoff.Policy{Initial: 50 * time.Millisecond, Factor: 2, Max: time.Second}
	}
	if wh.Timeout == 0 {
		wh.Timeout = 2 * time.Second
	}
	ix := e.ix
	svc = notify.New(notify.Options{Store: e.bucket, Search: ix.Search, Publish: e.nc.Publish, Interval: 50 * time.Millisecond,
		Engine: name, Webhook: wh})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	e.t.Cleanup(stop)
	return svc, stop
}

func (e *env) addRule(svc *notify.Service, rule map[string]any) {
	e.t.Helper()
	raw, _ := json.Marshal(rule)
	if _, err := svc.Put(e.ctx, "tester", raw); err != nil {
		e.t.Fatalf("adding rule %v: %v", rule, err)
	}
}

func (e *env) start(wf any, id string) engine.Run {
	e.t.Helper()
	run, err := e.client.Start(e.ctx, engine.StartOptions{ID: id, TaskQueue: queue}, wf, id)
	if err != nil {
		e.t.Fatalf("start %s: %v", id, err)
	}
	return run
}

// inbox collects the notifications published on a subject.
type inbox struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (e *env) subscribe(subject string) *inbox {
	e.t.Helper()
	in := &inbox{}
	sub, err := e.nc.Subscribe(subject, func(m *nats.Msg) {
		var msg notify.Message
		if err := json.Unmarshal(m.Data, &msg); err != nil {
			e.t.Errorf("notification is not JSON: %s", m.Data)
		}
		in.mu.Lock()
		in.msgs = append(in.msgs, msg)
		in.mu.Unlock()
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return in
}

// byRun counts messages per workflow id.
func (in *inbox) byRun() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return countByRun(in.msgs)
}

// countByRun counts the notifications (tests aside) per workflow id.
func countByRun(msgs []notify.Message) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		if !m.Test {
			out[m.WorkflowID]++
		}
	}
	return out
}

// receiver is a local HTTP webhook receiver; answer decides each post's
// status (n counts from 1).
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	posts []notify.Message
	times []time.Time
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body is not JSON: %s", body)
		}
		rc.mu.Lock()
		rc.posts = append(rc.posts, m)
		rc.times = append(rc.times, time.Now())
		n := len(rc.posts)
		rc.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) byRun() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return countByRun(rc.posts)
}

func ok(int, http.ResponseWriter, *http.Request) {}

// newBuckets is a store, an index fed from it and the notification
// buckets, without an engine (for fixture histories).
func newBuckets(t *testing.T) (*jetstream.Store, *indextest.Index, *jetstream.Notify) {
	t.Helper()
	store, _ := jstest.Start(t)
	ix := indextest.Start(t, store, t.TempDir())
	b, err := jetstream.OpenNotify(context.Background(), store.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return store, ix, b
}
