package jetstream_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	st, srv := jstest.StartIn(t, dir, jetstream.Options{})
	ctx := testCtx(t)
	seqs := appendN(t, st, "r1", 3, 0)
	if _, err := st.CreateRun(ctx, "wf.1", engine.RunRecord{RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PublishTask(ctx, engine.WorkflowTaskKind, "q", []byte("task"), ""); err != nil {
		t.Fatal(err)
	}
	if err := st.PutTimer(ctx, engine.StoredTimer{Key: "r1.t", FireAt: time.Now(), Data: []byte("tm")}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutHeartbeat(ctx, "r1.a.1", []byte("hb")); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	st.Conn().Close()
	srv.Shutdown()

	st2, _ := jstest.StartIn(t, dir, jetstream.Options{})
	got, err := st2.ReadHistory(ctx, "r1", 0)
	if err != nil || len(got) != 3 || got[2].Seq != seqs[2] {
		t.Fatalf("history after restart: %d batches, %v", len(got), err)
	}
	if _, err := st2.AppendHistory(ctx, header("r1", 7, 8), nil, seqs[2], ""); err != nil {
		t.Fatalf("append after restart: %v", err)
	}
	if rec, _, err := st2.GetRun(ctx, "wf.1"); err != nil || rec.RunID != "r1" {
		t.Fatalf("run after restart: %+v %v", rec, err)
	}
	if v, err := st2.GetHeartbeat(ctx, "r1.a.1"); err != nil || string(v) != "hb" {
		t.Fatalf("heartbeat after restart: %q %v", v, err)
	}
	ch, _ := consume(t, st2, engine.WorkflowTaskKind, "q", 1)
	if d := recv(t, ch, 5*time.Second); string(d.Data()) != "task" {
		t.Fatalf("task after restart: %q", d.Data())
	}
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	var timers []string
	_ = st2.WatchTimers(wctx, func(tm engine.StoredTimer) { timers = append(timers, string(tm.Data)) })
	if len(timers) != 1 || timers[0] != "tm" {
		t.Fatalf("timers after restart: %v", timers)
	}

	// Open is idempotent: again on the same connection, data intact.
	st3, err := jetstream.Open(ctx, st2.Conn(), jetstream.Options{})
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer st3.Close()
	if got, err := st3.ReadHistory(ctx, "r1", 0); err != nil || len(got) != 4 {
		t.Fatalf("history after second Open: %d, %v", len(got), err)
	}
}

func TestSyncAlways(t *testing.T) {
	_, srv := jstest.StartIn(t, t.TempDir(), jetstream.Options{Sync: jetstream.SyncAlways})
	if !srv.SyncAlways() {
		t.Fatal("server started with sync always does not report it")
	}
	_, srv2 := jstest.Start(t)
	if srv2.SyncAlways() {
		t.Fatal("default server reports sync always")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		opts jetstream.Options
		want string
	}{
		{jetstream.Options{}, ""},
		{jetstream.Options{Listen: "127.0.0.1:-1", Sync: "always", Replicas: 3}, ""},
		{jetstream.Options{Listen: "nohost"}, `listen "nohost"`},
		{jetstream.Options{Listen: "127.0.0.1:99999"}, "port"},
		{jetstream.Options{Sync: "sometimes"}, `sync "sometimes"`},
		{jetstream.Options{Replicas: 7}, "replicas 7"},
		{jetstream.Options{TLSCert: "c.pem"}, "tls"},
		{jetstream.Options{AckWait: time.Millisecond}, "ack wait"},
	} {
		err := tc.opts.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.opts, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want it to mention %q", tc.opts, err, tc.want)
		}
	}
	if _, err := jetstream.StartEmbedded(jetstream.Options{}, nil); err == nil {
		t.Error("StartEmbedded without a data directory accepted")
	}
}

func TestConnectFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := jetstream.Connect(ctx, "nats://127.0.0.1:1", jetstream.Options{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("connect to a closed port: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("connect hung until the deadline")
	}
}

// Open leaves streams and buckets already configured as wanted alone (an
// update on every start raced, inside nats-server, the consumer creation
// of other processes starting at the same time) and still upgrades those
// configured otherwise.
func TestOpenUpdatesOnlyWhatDiffers(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	nc := st.Conn()
	var mu sync.Mutex
	var changes []string // stream API requests that change something
	for _, op := range []string{"CREATE", "UPDATE"} {
		sub, err := nc.Subscribe("$JS.API.STREAM."+op+".*", func(m *nats.Msg) {
			mu.Lock()
			changes = append(changes, op+" "+m.Subject[strings.LastIndexByte(m.Subject, '.')+1:])
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	openAgain := func() []string {
		t.Helper()
		mu.Lock()
		changes = nil
		mu.Unlock()
		st2, err := jetstream.Open(ctx, nc, jetstream.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_ = st2.Close()
		if err := nc.Flush(); err != nil { // the requests seen by our subscriptions too
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		sort.Strings(changes)
		return changes
	}
	if got := openAgain(); len(got) != 0 {
		t.Fatalf("second Open changed %v, want nothing", got)
	}

	// A stream and a bucket configured otherwise (by an older version, say)
	// are updated, and only those.
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{jetstream.TasksStream, "KV_" + jetstream.HeartbeatsBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.Description = "old"
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"UPDATE " + jetstream.TasksStream, "UPDATE KV_" + jetstream.HeartbeatsBucket}
	// The subscriptions see this test's own two updates too, and may still
	// be handed them after Flush: wait for them before Open's are counted.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(changes)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	if got := openAgain(); !slices.Equal(got, want) {
		t.Fatalf("Open after a change did %v, want %v", got, want)
	}
	for _, name := range []string{jetstream.TasksStream, "KV_" + jetstream.HeartbeatsBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if d := s.CachedInfo().Config.Description; d == "old" {
			t.Errorf("stream %s not upgraded", name)
		}
	}
	if got := openAgain(); len(got) != 0 {
		t.Fatalf("Open after the upgrade changed %v, want nothing", got)
	}
}

// The embedded server's own roles connect in process: a store on such a
// connection and one on a TCP connection see the same history, and
// optimistic concurrency holds between them.
func TestInProcessConnection(t *testing.T) {
	tcp, srv := jstest.Start(t)
	ctx := testCtx(t)
	nc, err := srv.Connect(ctx, jetstream.Options{Name: "in-process"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if addr := nc.ConnectedAddr(); addr != "pipe" {
		t.Fatalf("in-process connection's address %q, want pipe (no TCP)", addr)
	}
	inproc, err := jetstream.Open(ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inproc.Close()
	seq, err := inproc.AppendHistory(ctx, header("run1", 1, 2), []byte("a"), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tcp.AppendHistory(ctx, header("run1", 3, 4), []byte("b"), 0, ""); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("stale append over TCP: %v, want a conflict", err)
	}
	if _, err := tcp.AppendHistory(ctx, header("run1", 3, 4), []byte("b"), seq, ""); err != nil {
		t.Fatal(err)
	}
	got, err := inproc.ReadHistory(ctx, "run1", 0)
	if err != nil || len(got) != 2 || string(got[0].Data) != "a" || string(got[1].Data) != "b" {
		t.Fatalf("history read in process: %+v, %v", got, err)
	}
}
