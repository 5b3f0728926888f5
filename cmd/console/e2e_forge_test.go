package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/audit"
)

// setRoles gives users roles in the engine's directory. Until the user
// directory of issue 16 is merged the engine reads <data>/auth/roles.json
// (cmd/engine/directory.go); with it, this becomes `foreman-engine users
// add`.
func (e *engineProc) setRoles(t *testing.T, roles map[string]string) {
	t.Helper()
	m := map[string]map[string]string{}
	for u, r := range roles {
		m[u] = map[string]string{"role": r}
	}
	data, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(e.data, "auth", "roles.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// forge appends an operator event to a run's history the way a raw client
// with history-publish rights (a worker credential) can: not through the
// engine, so unsigned.
func (e *engineProc) forge(t *testing.T, workflowID string, typ engine.EventType, attrs any) {
	t.Helper()
	ctx := context.Background()
	x := e.describe(t, workflowID)
	s := e.node.Store
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
