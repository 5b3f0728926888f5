package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// The engine requires credentials; the CLI of the same OS user finds the
// ones the engine left for its URL and needs no flag (every other e2e test
// relies on that too). From another config directory it is refused with a
// message that says where it looked and what to pass; --creds with the
// data directory's file then works.
func TestCLIFindsTheLocalEngineCredentials(t *testing.T) {
	e := sharedEngine(t)
	run := func(env []string, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "foreman"), args...)
		cmd.Env = append(append(os.Environ(), "FOREMAN_NATS="+e.url, "FOREMAN_IDENTITY=auth"), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatalf("foreman %v: %v", args, err)
		}
		return 0, out.String()
	}
	if code, out := run(nil, "count"); code != 0 {
		t.Fatalf("same user, no flags: exit %d\n%s", code, out)
	}
	other := []string{jetstream.ConfigDirEnv + "=" + t.TempDir()}
	code, out := run(other, "count")
	if code == 0 || !strings.Contains(out, "Authorization") || !strings.Contains(out, jetstream.ConfigDirEnv) || !strings.Contains(out, "--creds") {
		t.Fatalf("without the engine's credentials: exit %d, want a refusal naming %s and --creds\n%s", code, jetstream.ConfigDirEnv, out)
	}
	t.Logf("refusal: %s", out)
	if code, out := run(other, "count", "--creds", filepath.Join(e.data, "auth", "local.nk")); code != 0 {
		t.Fatalf("--creds <data>/auth/local.nk: exit %d\n%s", code, out)
	}
}

// usersCmd runs `foreman-engine users ARGS` against e with the local
// (admin) credentials and returns its output; it fails the test on a
// non-zero exit unless wantFail.
func (e *engineProc) usersCmd(t *testing.T, wantFail bool, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "foreman-engine"), append([]string{"users"}, append(args, "--nats", e.url)...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if (err != nil) != wantFail {
		t.Fatalf("foreman-engine users %v: err %v, want failure %v\n%s", args, err, wantFail, out.String())
	}
	return out.String()
}

func (e *engineProc) msgs(t *testing.T) uint64 {
	t.Helper()
	js, _ := natsjs.New(e.node.Conn)
	var n uint64
	for _, name := range []string{jetstream.HistoryStream, jetstream.TasksStream, jetstream.TimersStream, "KV_" + jetstream.RunsBucket, "KV_" + jetstream.UsersBucket} {
		st, err := js.Stream(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		n += st.CachedInfo().State.Msgs
	}
	return n
}

// Against the real engine process: `users add` writes a credentials file
// (0600) that connects; a viewer reads through the CLI, is refused every
// write at once (the CLI and a raw connection) and nothing is stored; the
// admin API refuses it; `users revoke` cuts its live connection within a
// couple of seconds and its next request fails.
func TestUsersViewerAndRevoke(t *testing.T) {
	e := sharedEngine(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "vera.nk")
	if out := e.usersCmd(t, false, "add", "vera", "--role", "viewer", "-o", creds); !strings.Contains(out, "added vera") {
		t.Fatalf("users add: %s", out)
	}
	if fi, err := os.Stat(creds); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v", err, fi.Mode())
	}
	id := "users-viewer-1"
	e.ok(t, "test-setup", "start", "Gate", "--id", id, "--queue", testQueue, "--input", `{"ticket":"U-1"}`)
	e.waitApproval(t, id, "release")

	// Through the CLI: reads work, a write is refused at once (read-only:
	// the viewer role), even when --read-only=false is asked for.
	e.ok(t, "vera", "--creds", creds, "show", id)
	e.ok(t, "vera", "--creds", creds, "history", id)
	e.ok(t, "vera", "--creds", creds, "list", "-q", "WorkflowId = '"+id+"'")
	e.ok(t, "vera", "--creds", creds, "views")
	e.ok(t, "vera", "--creds", creds, "query", id, "state")
	before := e.msgs(t)
	start := time.Now()
	e.fails(t, "vera", 4, "", "--creds", creds, "--read-only=false", "approve", id, "release", "-y")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("refusal took %s", d)
	}

	// A raw connection with the file: every state-changing subject refused.
	nc := jstest.ConnectAs(t, e.url, creds)
	ref := jstest.WatchRefusals(nc)
	for _, subj := range []string{
		"fm.h." + id, "fm.t.wf." + testQueue, "fm.tm.x", "$KV.fm_runs.x", "$KV.fm_users.vera",
		"$JS.API.STREAM.PURGE.FM_HISTORY", "$JS.API.STREAM.DELETE.FM_TASKS", "$JS.API.STREAM.PURGE.KV_fm_runs",
		"fm.api.admin.vera.add", "fm.api.act.alice.approve",
	} {
		if !ref.Publish(subj) {
			t.Errorf("viewer publish on %s not refused", subj)
		}
	}
	if after := e.msgs(t); after != before {
		t.Fatalf("stored messages %d -> %d after a viewer's writes", before, after)
	}
	if x := e.describe(t, id); x.Status != engine.StatusRunning || len(x.Approvals) != 1 {
		t.Fatalf("run changed: %s, %d approvals pending", x.Status, len(x.Approvals))
	}

	// Revoke: the open connection is closed and the next request fails.
	e.usersCmd(t, false, "revoke", "vera")
	deadline := time.Now().Add(2 * time.Second)
	for nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("revoked viewer still connected 2s after users revoke")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := nc.RequestWithContext(ctx, "fm.api.vis.count", []byte(`{}`)); err == nil {
		t.Fatal("a revoked user's request was answered")
	}
	e.fails(t, "vera", 1, "revoked", "--creds", creds, "count")
	var list []jetstream.UserRecord
	if err := json.Unmarshal([]byte(e.usersCmd(t, false, "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range list {
		if r.User == "vera" {
			found = !r.Active() && r.RevokedBy != ""
		}
	}
	if !found {
		t.Fatalf("users list does not show vera revoked: %+v", list)
	}
	// Re-adding an active user is refused; a non-admin cannot manage users.
	e.usersCmd(t, true, "add", jetstream.LocalUser(), "--role", "viewer", "-o", filepath.Join(dir, "x.nk"))
}

// A worker credential of one task queue runs that queue's workflows (tasks,
// history, queries answered) and is refused another queue's tasks and
// the admin and other users' action subjects.
func TestUsersWorkerCredentials(t *testing.T) {
	e := sharedEngine(t)
	creds := filepath.Join(t.TempDir(), "wq.nk")
	e.usersCmd(t, false, "add", "wq", "--role", "worker", "--queue", "wq-a", "-o", creds)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc := jstest.ConnectAs(t, e.url, creds)
	st, err := jetstream.OpenExisting(ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.User() != "wq" {
		t.Fatalf("Store.User() = %q", st.User())
	}
	w := engine.NewWorker(st, "wq-a", engine.WorkerOptions{Identity: "wq-worker"})
	if err := w.RegisterWorkflow(Gate); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	id := "users-worker-1"
	e.ok(t, "test-setup", "start", "Gate", "--id", id, "--queue", "wq-a", "--input", `{"ticket":"W-1"}`)
	e.waitApproval(t, id, "release")
	if r := e.ok(t, "test-setup", "query", id, "state", "--input", `"q:"`); !strings.Contains(r.stdout, "W-1") {
		t.Fatalf("query answered by the worker: %s", r)
	}
	// Queue B's consumer: neither created nor pulled with these credentials.
	ref := jstest.WatchRefusals(nc)
	for _, subj := range []string{
		"$JS.API.CONSUMER.CREATE.FM_TASKS.wf_wq-b.fm.t.wf.wq-b", "$JS.API.CONSUMER.MSG.NEXT.FM_TASKS.wf_" + testQueue,
		"$JS.API.CONSUMER.CREATE.FM_TASKS.wf_wq-a.fm.t.wf." + testQueue, "fm.api.admin.wq.add", "fm.api.act.alice.approve", "$KV.fm_users.wq",
	} {
		if !ref.Publish(subj) {
			t.Errorf("worker of wq-a: publish on %s not refused", subj)
		}
	}
	if !ref.Subscribe("fm.q." + testQueue) {
		t.Error("worker of wq-a may subscribe to another queue's queries")
	}
}
