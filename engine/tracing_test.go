package engine_test

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/foremanhq/foreman/engine"
)

func tracedWF(ctx engine.Context) (string, error) {
	var out string
	if err := engine.ExecuteActivity(ctx, announceAct, "x").Get(ctx, &out); err != nil {
		return "", err
	}
	engine.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return out, nil
}

// A worker that never held the run (its first worker stopped) replays it
// from history and still finds the start's trace there (the start
// batch's traceparent header, through JetStream): its workflow task's
// span is a child of the Start span like the first worker's.
func TestTraceSurvivesReplayOnAnotherWorker(t *testing.T) {
	h := newHarness(t)
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	defer tp.Shutdown(h.ctx)
	register := func(w *engine.Worker) {
		_ = w.RegisterWorkflow(tracedWF)
		_ = w.RegisterActivity(announceAct)
	}
	w1 := h.worker("traced", engine.WorkerOptions{TracerProvider: tp, AnnounceInterval: -1}, register)
	client := engine.NewClient(h.store, engine.ClientOptions{Identity: "tester", TracerProvider: tp})
	run, err := client.Start(h.ctx, engine.StartOptions{ID: "traced-1", TaskQueue: "traced"}, tracedWF, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.waitForEvent("traced-1", engine.EventActivityCompleted)
	w1.Stop()
	h.worker("traced", engine.WorkerOptions{TracerProvider: tp, AnnounceInterval: -1}, register)
	if err := h.client.Signal(h.ctx, "traced-1", "", "go", nil); err != nil {
		t.Fatal(err)
	}
	h.mustResult("traced-1", nil)

	var start sdktrace.ReadOnlySpan
	var tasks, acts []sdktrace.ReadOnlySpan
	// The result may be handed over (engine/local.go) before the closing
	// task's span ends.
	waitFor(t, "the closing workflow task's span", func() bool {
		n := 0
		for _, s := range mem.GetSpans().Snapshots() {
			if s.Name() == "WorkflowTask:tracedWF" {
				n++
			}
		}
		return n >= 3
	})
	for _, s := range mem.GetSpans().Snapshots() {
		switch s.Name() {
		case "StartWorkflow:tracedWF":
			start = s
		case "WorkflowTask:tracedWF":
			tasks = append(tasks, s)
		case "Activity:announceAct":
			acts = append(acts, s)
		}
	}
	if start == nil || len(tasks) < 3 || len(acts) != 1 {
		t.Fatalf("spans: start %v, %d workflow tasks, %d activities; want a start, 3 or more tasks, 1 activity", start != nil, len(tasks), len(acts))
	}
	taskIDs := map[string]bool{}
	for _, s := range tasks {
		if s.Parent().SpanID() != start.SpanContext().SpanID() || s.SpanContext().TraceID() != start.SpanContext().TraceID() {
			t.Errorf("workflow task span (run %s) parent %s, want the start %s", run.RunID, s.Parent().SpanID(), start.SpanContext().SpanID())
		}
		taskIDs[s.SpanContext().SpanID().String()] = true
	}
	if !taskIDs[acts[0].Parent().SpanID().String()] {
		t.Errorf("activity span's parent %s is no workflow task", acts[0].Parent().SpanID())
	}
}
