package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/foremanhq/foreman/engine/internal/clock"
)

// WorkflowReplayer runs recorded histories against the current workflow
// code, without a store or a worker, and reports where the code no longer
// makes the decisions its history recorded. Replay recorded histories in
// CI to catch a change that would break running executions before it is
// deployed (guard such changes with GetVersion).
type WorkflowReplayer struct {
	reg *registry
}

// NewWorkflowReplayer returns a replayer with nothing registered.
func NewWorkflowReplayer() *WorkflowReplayer { return &WorkflowReplayer{reg: newRegistry()} }

// RegisterWorkflow registers fn under its function name.
func (r *WorkflowReplayer) RegisterWorkflow(fn any) error { return r.reg.registerWorkflow("", fn) }

// RegisterWorkflowWithName registers fn under name.
func (r *WorkflowReplayer) RegisterWorkflowWithName(name string, fn any) error {
	return r.reg.registerWorkflow(name, fn)
}

// ReplayError says why a history does not replay.
type ReplayError struct {
	// Code is the engine's error code: CodeNonDeterminism,
	// CodeWorkflowPanic, CodeUnknownWorkflow or CodeBadHistory.
	Code         string
	WorkflowID   string
	RunID        string
	WorkflowType string
	// Err is the failure; a *NonDeterminismError for CodeNonDeterminism.
	Err error
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("replaying run %s of workflow %s (%s): %v", e.RunID, e.WorkflowID, e.WorkflowType, e.Err)
}

func (e *ReplayError) Unwrap() error { return e.Err }

// ReplayWorkflowHistory replays one run's events (in order, from event 1)
// against the registered workflow code; nil means the code makes every
// decision the history recorded.
func (r *WorkflowReplayer) ReplayWorkflowHistory(events []Event) error {
	env := newWorkflowEnv(r.reg, clock.Wall)
	defer env.close()
	fail := func(err error) error {
		re := &ReplayError{Code: CodeBadHistory, WorkflowID: env.info.WorkflowID, RunID: env.info.RunID, WorkflowType: env.info.WorkflowType, Err: err}
		var nd *NonDeterminismError
		var te *taskError
		switch {
		case errors.As(err, &nd):
			re.Code = CodeNonDeterminism
		case errors.As(err, &te):
			re.Code = te.code
		}
		return re
	}
	if len(events) == 0 {
		return fail(errors.New("the history is empty"))
	}
	if s, ok := events[0].Attrs.(*WorkflowStarted); ok { // named in errors even when it does not start
		env.info = WorkflowInfo{WorkflowID: s.WorkflowID, RunID: s.RunID, WorkflowType: s.WorkflowType, TaskQueue: s.TaskQueue,
			ScheduledBy: s.ScheduledBy, ScheduledStartTime: s.ScheduledStartTime}
	}
	for i, b := range batchesOf(events) {
		if err := env.applyBatch(StoredBatch{Seq: uint64(i + 1)}, b); err != nil {
			return fail(err)
		}
	}
	return nil
}

// batchesOf regroups a history into the batches replay runs the code for:
// a history as the client and the CLI return it is flat, and each workflow
// task ends with its WorkflowTaskCompleted, recorded at the task's time.
// Events recorded between two tasks by someone else (a signal, a decision)
// join the next task; the code sees them at the same point either way.
func batchesOf(events []Event) []*Batch {
	var out []*Batch
	var cur []Event
	for _, e := range events {
		cur = append(cur, e)
		if e.Type == EventWorkflowTaskCompleted {
			out = append(out, &Batch{Kind: BatchTask, TaskTime: e.Time, Events: cur})
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, &Batch{Kind: BatchExternal, Events: cur})
	}
	return out
}

// ReplayWorkflowHistoryFromJSONFile replays a history file: the output of
// `foreman history WORKFLOW_ID -o json` (or -o jsonl), of
// WriteHistoryJSON, or an export file of `foreman export` (every run in
// it, so a production history becomes a regression test).
func (r *WorkflowReplayer) ReplayWorkflowHistoryFromJSONFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("replaying history: %w", err)
	}
	if isExport(data) {
		var errs []error
		err := ReadExport(bytes.NewReader(data), func(run ExportedRun) error {
			if err := r.ReplayWorkflowHistory(run.Events); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", path, err))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("replaying %s: %w", path, err)
		}
		return errors.Join(errs...)
	}
	events, err := ReadHistoryJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("replaying %s: %w", path, err)
	}
	if err := r.ReplayWorkflowHistory(events); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// isExport tells an export file (its lines carry a format) from a history.
func isExport(data []byte) bool {
	first, _, _ := bytes.Cut(bytes.TrimSpace(data), []byte("\n"))
	var head struct {
		Format *string `json:"format"`
	}
	return len(first) > 0 && first[0] == '{' && json.Unmarshal(first, &head) == nil && head.Format != nil
}
