package engine

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// OpenTelemetry traces: a client's Start, then each workflow task of the
// run, then each activity attempt a workflow task scheduled, as one trace
// across processes. The context travels as a W3C traceparent in what
// already travels: the run's first history batch (BatchHeader.Trace, a
// NATS header), the header of each workflow task's batch, and the tasks
// the dispatcher derives from them (workflowTask.Trace, activityTask.Trace).
//
// Tracing is off unless ClientOptions or WorkerOptions name a
// TracerProvider: then the tracer is nil and every call site below is one
// nil check, no allocation (engine/tracing.FromEnv builds a provider from
// the standard OTEL_* variables).

// TracerName is the instrumentation scope of Foreman's spans.
const TracerName = "github.com/foremanhq/foreman/engine"

// spanAttrs are the attributes of every span about a run, then more
// (ids are fine here: traces, unlike metrics, are meant to carry them).
func spanAttrs(workflowID, runID, queue string, more ...attribute.KeyValue) trace.SpanStartEventOption {
	return trace.WithAttributes(append([]attribute.KeyValue{attribute.String("foreman.workflow_id", workflowID),
		attribute.String("foreman.run_id", runID), attribute.String("foreman.task_queue", queue)}, more...)...)
}

// tracer makes Foreman's spans; nil when tracing is off.
type tracer struct{ t trace.Tracer }

func newTracer(tp trace.TracerProvider) *tracer {
	if tp == nil {
		return nil
	}
	return &tracer{t: tp.Tracer(TracerName)}
}

// traceCarrier is a propagation.TextMapCarrier holding one traceparent:
// all a W3C context needs here (no tracestate, no baggage).
type traceCarrier struct{ parent string }

func (c *traceCarrier) Get(key string) string {
	if key == "traceparent" {
		return c.parent
	}
	return ""
}

func (c *traceCarrier) Set(key, value string) {
	if key == "traceparent" {
		c.parent = value
	}
}

func (c *traceCarrier) Keys() []string { return []string{"traceparent"} }

var w3c = propagation.TraceContext{}

// withParent returns ctx carrying the remote span context of traceparent
// (ctx as is when it is empty or malformed: the span starts a new trace).
func withParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return w3c.Extract(ctx, &traceCarrier{parent: traceparent})
}

// traceparentOf is the W3C traceparent of ctx's span, "" when none is
// recording (tracing off, or not sampled: nothing to link to).
func traceparentOf(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	var c traceCarrier
	w3c.Inject(ctx, &c)
	return c.parent
}

// endSpan ends span, marking it failed with err when there is one.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// startWorkflowSpan starts a client's Start span (a producer: the run it
// starts is consumed elsewhere).
func (tr *tracer) startWorkflowSpan(ctx context.Context, opts StartOptions, workflowType string) (context.Context, trace.Span) {
	return tr.t.Start(ctx, "StartWorkflow:"+workflowType, trace.WithSpanKind(trace.SpanKindProducer),
		spanAttrs(opts.ID, "", opts.TaskQueue, attribute.String("foreman.workflow_type", workflowType)))
}

func endStartSpan(span trace.Span, run Run, err error) {
	if run.RunID != "" {
		span.SetAttributes(attribute.String("foreman.run_id", run.RunID))
	}
	endSpan(span, err)
}
