package jetstream_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/internal/syncbuf"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// bootWithUsers starts an authenticated embedded engine node with its
// user directory served.
// The server's log (warnings and errors: refused publishes) is returned too.
func bootWithUsers(t *testing.T) (*jetstream.Node, *jetstream.Users, *syncbuf.Buffer) {
	t.Helper()
	return bootWithUsersOn(t, jetstream.Options{})
}

// bootWithUsersOn is bootWithUsers with opts (DataDir and Listen set here).
func bootWithUsersOn(t *testing.T, opts jetstream.Options) (*jetstream.Node, *jetstream.Users, *syncbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serverLog := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(serverLog, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts.DataDir, opts.Listen = t.TempDir(), "127.0.0.1:-1"
	node, err := jetstream.Boot(ctx, opts, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	users, err := node.ServeUsers(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(users.Close)
	waitApplied(t, node, node.Server.LocalKey(), "the engine's own")
	return node, users, serverLog
}

// waitApplied waits until the server accepts the user of key (the
// directory applies users asynchronously, through its watch).
func waitApplied(t *testing.T, node *jetstream.Node, key, name string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !node.Server.Accepts(key); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server never applied user %s", name)
		}
	}
}

// addUser adds name with role (and queues) and writes its credentials.
func addUser(t *testing.T, node *jetstream.Node, users *jetstream.Users, name string, role auth.Role, queues ...string) string {
	t.Helper()
	pub, file, err := jetstream.NewUserCreds(name, role)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".nk")
	if err := jetstream.WriteSecretFile(path, file); err != nil {
		t.Fatal(err)
	}
	if err := users.Add(context.Background(), jetstream.UserRecord{Principal: auth.Principal{User: name, Role: role, Queues: queues}, NKey: pub}); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, node, pub, name)
	return path
}

// A viewer reads (search-free store reads: history, runs) and publishes
// nothing that changes state: every write subject is refused by the
// server and no message is stored.
func TestViewerCannotWrite(t *testing.T) {
	node, users, serverLog := bootWithUsers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := engine.BatchHeader{RunID: "r1", WorkflowID: "wf", TaskQueue: "q", Kind: engine.BatchExternal, FirstEventID: 1, LastEventID: 1}
	if _, err := node.Store.AppendHistory(ctx, h, []byte(`{"kind":"external","events":[]}`), 0, ""); err != nil {
		t.Fatal(err)
	}
	// The engine's own key names the local principal, in the data
	// directory's file and on the engine's connection.
	if u := jetstream.CredsUser(node.Server.CredsFile()); u != jetstream.LocalUser() || node.Store.User() != u {
		t.Fatalf("local principal: file %q, connection %q, want %q", u, node.Store.User(), jetstream.LocalUser())
	}
	nc := jstest.ConnectAs(t, node.URL(), addUser(t, node, users, "vera", auth.Viewer))
	if got := jetstream.ConnUser(nc); got != "vera" {
		t.Fatalf("ConnUser = %q, want vera", got)
	}
	st, err := jetstream.OpenExisting(ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatalf("viewer opens the store: %v", err)
	}
	defer st.Close()
	if got, err := st.ReadHistory(ctx, "r1", 0); err != nil || len(got) != 1 {
		t.Fatalf("viewer reads history: %d batches, %v", len(got), err)
	}
	js, _ := natsjs.New(nc)
	before := streamMsgs(t, node, jetstream.HistoryStream) + streamMsgs(t, node, jetstream.TasksStream) + streamMsgs(t, node, jetstream.TimersStream)
	ref := jstest.WatchRefusals(nc)
	for _, subj := range []string{
		"fm.h.r1", "fm.h.forged", "fm.t.wf.q", "fm.tm.k", "$KV.fm_runs.x", "$KV.fm_users.vera", "fm.cancel",
		"$JS.API.STREAM.PURGE.FM_HISTORY", "$JS.API.STREAM.DELETE.FM_HISTORY", "$JS.API.STREAM.UPDATE.FM_HISTORY",
		"$JS.API.STREAM.MSG.DELETE.FM_HISTORY", "$JS.API.CONSUMER.DELETE.FM_HISTORY.dispatcher",
		"$JS.API.CONSUMER.CREATE.FM_HISTORY.dispatcher", "$JS.API.CONSUMER.MSG.NEXT.FM_TASKS.wf_q",
		"fm.api.admin.vera.add", "fm.api.act.alice.approve", "$JS.API.STREAM.INFO.FM_AUDIT.x",
		"$KV.fm_batches.b1.meta", "$KV.fm_views.v", "fm.batch.hold.b1",
	} {
		if !ref.Publish(subj) {
			t.Errorf("viewer publish on %s was not refused", subj)
		}
	}
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	defer pcancel()
	if _, err := js.Publish(pctx, "fm.h.r1", []byte("x")); err == nil {
		t.Error("viewer JetStream publish on fm.h.r1 acknowledged")
	}
	if _, err := js.Stream(ctx, jetstream.HistoryStream); err != nil {
		t.Errorf("viewer stream info: %v", err)
	}
	// The engine's log names whose publish was refused.
	if l := serverLog.String(); !strings.Contains(l, "(user vera)") || !strings.Contains(l, "Publish Violation") {
		t.Errorf("server log does not name vera's refused publishes:\n%s", l)
	}
	after := streamMsgs(t, node, jetstream.HistoryStream) + streamMsgs(t, node, jetstream.TasksStream) + streamMsgs(t, node, jetstream.TimersStream)
	if after != before {
		t.Fatalf("messages stored %d -> %d: a viewer's publish went through", before, after)
	}
	// Its own action subject is open (the engine checks the role there).
	if ref.Publish("fm.api.act.vera.approve") {
		t.Error("viewer refused on its own fm.api.act subject")
	}
	// Subscribing to others' replies is refused.
	if !ref.Subscribe("_INBOX.>") || !ref.Subscribe("fm.q.>") {
		t.Error("viewer subscription to _INBOX.> or fm.q.> was not refused")
	}
}

func streamMsgs(t *testing.T, node *jetstream.Node, stream string) uint64 {
	t.Helper()
	js, _ := natsjs.New(node.Conn)
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.Msgs
}

// A worker of queue A consumes A's tasks, and cannot create or pull B's
// consumer, nor use the admin API or another user's action subject.
func TestWorkerLimitedToItsQueues(t *testing.T) {
	node, users, _ := bootWithUsers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{"qa", "qb"} {
		if err := node.Store.PublishTask(ctx, engine.WorkflowTaskKind, q, []byte(q), "task-"+q); err != nil {
			t.Fatal(err)
		}
	}
	nc := jstest.ConnectAs(t, node.URL(), addUser(t, node, users, "wa", auth.Worker, "qa"))
	st, err := jetstream.OpenExisting(ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := make(chan string, 4)
	consume := func(q string) context.CancelFunc {
		c, stop := context.WithCancel(ctx)
		go func() {
			_ = st.ConsumeTasks(c, engine.WorkflowTaskKind, q, 1, func(d engine.Delivery) {
				got <- string(d.Data())
				_ = d.Ack(c)
			})
		}()
		return stop
	}
	// next is the task delivered within d, or "" when none came.
	next := func(d time.Duration) string {
		select {
		case data := <-got:
			return data
		case <-time.After(d):
			return ""
		}
	}
	defer consume("qa")()
	if data := next(10 * time.Second); data != "qa" {
		t.Fatalf("worker of qa: got %q from its own queue, want qa", data)
	}
	defer consume("qb")()
	if data := next(2 * time.Second); data != "" {
		t.Fatalf("worker of qa consumed %q from qb", data)
	}
	// It answers its queue's queries, to a viewer's own inbox.
	stopQ, err := st.ServeQueries("qa", func(req []byte) []byte { return append([]byte("re:"), req...) })
	if err != nil {
		t.Fatal(err)
	}
	defer stopQ()
	vnc := jstest.ConnectAs(t, node.URL(), addUser(t, node, users, "vic", auth.Viewer))
	vst, err := jetstream.OpenExisting(ctx, vnc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer vst.Close()
	if resp, err := vst.Query(ctx, "qa", []byte("x")); err != nil || string(resp) != "re:x" {
		t.Fatalf("viewer's query answered by the worker: %q, %v", resp, err)
	}
	// Workers of qa reach one another on their own subjects (eager
	// activities), not on qb's.
	stopW, err := st.ServeWorker("qa", "w1", func(req []byte) []byte { return []byte("runs") })
	if err != nil {
		t.Fatal(err)
	}
	defer stopW()
	if resp, err := st.AskWorker(ctx, "qa", "w1", []byte("{}")); err != nil || string(resp) != "runs" {
		t.Fatalf("worker of qa asking another on qa: %q, %v", resp, err)
	}
	// It announces itself, and a viewer lists it (:queues, foreman queues).
	if err := st.AnnounceWorker(ctx, "qa.w1", []byte(`{"queue":"qa"}`), 30*time.Second); err != nil {
		t.Fatalf("worker of qa announcing itself: %v", err)
	}
	if ws, err := vst.ListWorkers(ctx); err != nil || len(ws) != 1 {
		t.Fatalf("viewer listing workers: %d, %v", len(ws), err)
	}
	if err := st.WithdrawWorker(ctx, "qa.w1"); err != nil {
		t.Fatalf("worker of qa withdrawing: %v", err)
	}
	ref := jstest.WatchRefusals(nc)
	for _, subj := range []string{"fm.q.qb.w.w1", "fm.api.admin.wa.add", "fm.api.act.alice.approve", "$KV.fm_users.wa", "$JS.API.CONSUMER.MSG.NEXT.FM_TASKS.wf_qb", "$JS.API.CONSUMER.CREATE.FM_TASKS.wf_qa.fm.t.wf.qb", "fm.api.vis.search"} {
		if !ref.Publish(subj) {
			t.Errorf("worker of qa: publish on %s was not refused", subj)
		}
	}
	if n := streamMsgs(t, node, jetstream.TasksStream); n != 1 {
		t.Fatalf("tasks stream holds %d, want qb's task still there", n)
	}
}

// Revoking a user closes its live connection at once and refuses it
// from then on.
func TestRevokeCutsTheConnection(t *testing.T) {
	node, users, _ := bootWithUsers(t)
	nc := jstest.ConnectAs(t, node.URL(), addUser(t, node, users, "otto", auth.Operator))
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	nc.SetDisconnectErrHandler(func(*nats.Conn, error) {})
	if _, err := users.Revoke(context.Background(), "otto", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Lookup(context.Background(), "otto"); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("Lookup after revoke: %v, want ErrRevoked", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("revoked user still connected after 2s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := nc.RequestWithContext(ctx, "fm.api.vis.count", nil); err == nil {
		t.Fatal("request of a revoked user succeeded")
	}
}

// An operator runs batches and saves shared views: the client writes the
// batch's journal, its hold and the view itself (bookkeeping, never a
// run's state: each run's action goes through the engine), and nothing
// else of the store.
func TestOperatorKeepsBatchesAndViews(t *testing.T) {
	node, users, _ := bootWithUsers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// foreman-engine creates both buckets at start (cmd/engine).
	if _, err := jetstream.OpenBatches(ctx, node.Conn, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := jetstream.OpenViews(ctx, node.Conn, 0); err != nil {
		t.Fatal(err)
	}
	nc := jstest.ConnectAs(t, node.URL(), addUser(t, node, users, "otto", auth.Operator))
	bs, err := jetstream.OpenBatches(ctx, nc, 0)
	if err != nil {
		t.Fatalf("operator opens the batch journals: %v", err)
	}
	release, err := bs.Hold(ctx, "b1", "otto")
	if err != nil {
		t.Fatalf("operator holds a batch: %v", err)
	}
	defer release()
	if _, err := bs.Hold(ctx, "b1", "otto-again"); !errors.Is(err, jetstream.ErrBatchRunning) {
		t.Fatalf("second hold of a held batch: %v, want ErrBatchRunning", err)
	}
	js, _ := natsjs.New(nc)
	kv, err := js.KeyValue(ctx, jetstream.BatchesBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "b1.meta", []byte("{}")); err != nil {
		t.Fatalf("operator writes its batch journal: %v", err)
	}
	vs, err := jetstream.OpenViews(ctx, nc, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := vs.Save(ctx, jetstream.View{Name: "late", Query: "status:running", SavedBy: "otto"}); err != nil {
		t.Fatalf("operator saves a view: %v", err)
	}
	ref := jstest.WatchRefusals(nc)
	for _, subj := range []string{"fm.h.r1", "fm.t.wf.q", "$KV.fm_runs.x", "$KV.fm_users.otto"} {
		if !ref.Publish(subj) {
			t.Errorf("operator publish on %s was not refused", subj)
		}
	}
}
