package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// importProbe waits on an activity that never finishes where it was
// exported: imported elsewhere, a worker that ran it would count.
func importProbe(ctx engine.Context, _ struct{}) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: time.Minute})
	var out string
	err := engine.ExecuteActivity(ctx, "Probe", "x").Get(ctx, &out)
	return out, err
}

// A run exported from one engine (open, with an activity in flight) and
// imported into another is the same history plus its RunImported mark:
// marked in its summary, never handed to a worker there, refused by every
// write and by queries; importing again is a no-op; the replayer reads the
// export file.
func TestExportImport(t *testing.T) {
	src, dst := newHarness(t), newHarness(t)
	src.worker("probe", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflow(importProbe))
		must(w.RegisterActivityWithName("Probe", func(ctx context.Context, _ string) (string, error) {
			<-ctx.Done() // in flight until the test ends
			return "", ctx.Err()
		}))
	})
	var ran atomic.Int64
	// one handler: tasks are handled in the order they were stored
	dst.worker("probe", engine.WorkerOptions{MaxConcurrentWorkflowTasks: 1}, func(w *engine.Worker) {
		must(w.RegisterWorkflow(importProbe))
		must(w.RegisterWorkflow(echoWorkflow))
		must(w.RegisterActivityWithName("Probe", func(context.Context, string) (string, error) { ran.Add(1); return "ran", nil }))
	})
	src.start("probe-1", "probe", importProbe, struct{}{})
	src.waitForEvent("probe-1", engine.EventWorkflowTaskCompleted)

	exp, err := src.client.Export(src.ctx, "probe-1", "", "engine-a")
	must(err)
	var file bytes.Buffer
	must(engine.WriteExport(&file, exp))
	var back []engine.ExportedRun
	must(engine.ReadExport(bytes.NewReader(file.Bytes()), func(r engine.ExportedRun) error { back = append(back, r); return nil }))
	if len(back) != 1 || back[0].Format != engine.ExportFormat || back[0].Run.Status != engine.StatusRunning {
		t.Fatalf("export read back as %+v", back)
	}

	res, err := dst.client.Import(dst.ctx, back[0])
	if err != nil || !res.Current || res.Already {
		t.Fatalf("import: %+v %v", res, err)
	}
	got := dst.history("probe-1")
	if len(got) != len(exp.Events)+1 || !reflect.DeepEqual(got[:len(exp.Events)], exp.Events) {
		t.Fatalf("imported history differs:\n%s\nexported:\n%s", dumpEvents(got), dumpEvents(exp.Events))
	}
	x := engine.Summarize(got)
	if got[len(got)-1].Type != engine.EventRunImported || x.Imported == nil || x.Imported.Source != "engine-a" || x.Status != engine.StatusRunning {
		t.Fatalf("imported run not marked: %+v", x)
	}
	if res, err := dst.client.Import(dst.ctx, back[0]); err != nil || !res.Already {
		t.Fatalf("a second import: %+v %v", res, err)
	}
	if n := len(dst.history("probe-1")); n != len(got) {
		t.Fatalf("a second import wrote: %d events, had %d", n, len(got))
	}

	writes := map[string]error{
		"signal":    dst.client.Signal(dst.ctx, "probe-1", "", "go", nil),
		"cancel":    dst.client.Cancel(dst.ctx, "probe-1", "", "no"),
		"terminate": dst.client.Terminate(dst.ctx, "probe-1", "", "no"),
		"decide":    dst.client.Decide(dst.ctx, "probe-1", "", "x", true, ""),
	}
	_, writes["reset"] = dst.client.Reset(dst.ctx, "probe-1", "", engine.ResetOptions{To: "first"})
	_, writes["query"] = dst.client.Query(dst.ctx, "probe-1", "", engine.QueryStack, nil)
	writes["mark compensated"] = dst.client.MarkCompensated(dst.ctx, "probe-1", "", "x", 1)
	for name, err := range writes {
		if !errors.Is(err, engine.ErrImportedRun) {
			t.Errorf("%s on an imported run: got %v, want ErrImportedRun", name, err)
		}
	}

	// The dispatcher has passed the imported batches once a run started
	// after them completed; the probe's activity never ran here. A stray
	// workflow task for the copy (none is ever derived) is dropped by the
	// worker before the one that starts that run.
	stray := []byte(`{"run_id":"` + exp.RunID + `","workflow_id":"probe-1"}`)
	must(dst.store.PublishTask(dst.ctx, engine.WorkflowTaskKind, "probe", stray, "stray-"+exp.RunID))
	dst.start("after-import", "probe", echoWorkflow, "hi")
	dst.mustResult("after-import", nil)
	if n := ran.Load(); n != 0 {
		t.Fatalf("a worker ran the imported run's activity %d times", n)
	}
	if n := len(dst.history("probe-1")); n != len(got) {
		t.Fatalf("the imported run grew to %d events", n)
	}

	// The same id in the source engine is the run itself: importing it
	// there is refused.
	if _, err := src.client.Import(src.ctx, back[0]); !errors.Is(err, engine.ErrAlreadyStarted) {
		t.Fatalf("importing a run into its own engine: %v", err)
	}

	// The replayer reads the export file.
	path := filepath.Join(t.TempDir(), "probe.jsonl")
	must(os.WriteFile(path, file.Bytes(), 0o644))
	r := engine.NewWorkflowReplayer()
	must(r.RegisterWorkflow(importProbe))
	if err := r.ReplayWorkflowHistoryFromJSONFile(path); err != nil {
		t.Fatalf("replaying the export: %v", err)
	}
}

// An export line of another format version, or whose history could not
// have been written by an engine, is refused with what is wrong.
func TestReadExportRefuses(t *testing.T) {
	for name, line := range map[string]string{
		"version":  `{"format":"foreman.export/v9","workflow_id":"a","run_id":"r","events":[]}`,
		"empty":    `{"format":"foreman.export/v1","workflow_id":"a","run_id":"r","events":[]}`,
		"gap":      `{"format":"foreman.export/v1","workflow_id":"a","run_id":"r","events":[{"id":2,"type":"WorkflowStarted","attrs":{"workflow_id":"a","run_id":"r","task_queue":"q"}}]}`,
		"other id": `{"format":"foreman.export/v1","workflow_id":"a","run_id":"r","events":[{"id":1,"type":"WorkflowStarted","attrs":{"workflow_id":"b","run_id":"r","task_queue":"q"}}]}`,
		"run id":   `{"format":"foreman.export/v1","workflow_id":"a","run_id":"r.*","events":[{"id":1,"type":"WorkflowStarted","attrs":{"workflow_id":"a","run_id":"r.*","task_queue":"q"}}]}`,
	} {
		err := engine.ReadExport(bytes.NewReader([]byte(line+"\n")), func(engine.ExportedRun) error { return nil })
		if !errors.Is(err, engine.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
