package main_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/jetstream"
)

// addUser makes a user with foreman-engine users add and returns the
// credentials file it wrote.
func (e *engineProc) addUser(t *testing.T, name, role string) string {
	t.Helper()
	creds := filepath.Join(t.TempDir(), name+".nk")
	out, err := exec.Command(filepath.Join(binDir, "foreman-engine"), "users", "add", name, "--role", role, "-o", creds, "--nats", e.url).CombinedOutput()
	if err != nil {
		t.Fatalf("users add %s: %v\n%s", name, err, out)
	}
	return creds
}

// dialAs connects to the engine's server with a user's credentials.
func (e *engineProc) dialAs(t *testing.T, creds string) *jetstream.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node, err := jetstream.Dial(ctx, e.url, jetstream.Options{Name: "e2e " + filepath.Base(creds), CredsFile: creds})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	return node
}

// forge appends an operator event to a run's history the way a raw client
// with history-publish rights (a worker credential, s) can: not through
// the engine, so unsigned.
func (e *engineProc) forge(t *testing.T, s *jetstream.Store, workflowID string, typ engine.EventType, attrs any) {
	t.Helper()
	ctx := context.Background()
	x := e.describe(t, workflowID)
	last, err := s.LastBatch(ctx, x.RunID)
	if err != nil {
		t.Fatal(err)
	}
	id := last.Header.LastEventID + 1
	data, _ := json.Marshal(&engine.Batch{Kind: engine.BatchExternal, Events: []engine.Event{{ID: id, Type: typ, Time: time.Now().UTC(), Attrs: attrs}}})
	h := engine.BatchHeader{RunID: x.RunID, WorkflowID: workflowID, TaskQueue: last.Header.TaskQueue, Kind: engine.BatchExternal,
		FirstEventID: id, LastEventID: id, Closed: typ.Closes(), Wake: !typ.Closes()}
	if _, err := s.AppendHistory(ctx, h, data, last.Seq, ""); err != nil {
		t.Fatalf("forging %s: %v", typ, err)
	}
}

func (e *engineProc) auditLog(t *testing.T) []audit.Record {
	t.Helper()
	return jsonOut[[]audit.Record](t, e.ok(t, "admin", "audit", "-o", "json"))
}
