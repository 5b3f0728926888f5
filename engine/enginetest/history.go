package enginetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/foremanhq/foreman/engine"
)

// History returns the run's events.
func (e *Env) History(run engine.Run) []engine.Event {
	e.t.Helper()
	events, err := e.client.History(e.ctx, run.WorkflowID, run.RunID)
	if err != nil {
		e.t.Fatalf("enginetest: history of %s: %v", run.WorkflowID, err)
	}
	return events
}

// RecordHistory writes the run's history to path as `foreman history
// WORKFLOW_ID -o json` prints it, the format engine.WorkflowReplayer reads:
// record the histories of representative runs under testdata/ and replay
// them in CI, so a change that would break running executions fails a test.
func (e *Env) RecordHistory(run engine.Run, path string) {
	e.t.Helper()
	var b bytes.Buffer
	if err := engine.WriteHistoryJSON(&b, e.History(run)); err != nil {
		e.t.Fatalf("enginetest: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatalf("enginetest: recording history: %v", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		e.t.Fatalf("enginetest: recording history: %v", err)
	}
}

func (e *Env) dump(run engine.Run) string {
	events, err := e.client.History(context.Background(), run.WorkflowID, "")
	if err != nil {
		return err.Error()
	}
	s := ""
	for _, ev := range events {
		b, _ := json.Marshal(ev.Attrs)
		if len(b) > 200 {
			b = append(b[:200], "…"...)
		}
		s += fmt.Sprintf("  %3d %-26s %s\n", ev.ID, ev.Type, b)
	}
	return s
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
