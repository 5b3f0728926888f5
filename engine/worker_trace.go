package engine

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The worker's spans (tracing.go): one per workflow task, a child of the
// run's start; one per activity attempt, a child of the workflow task
// that scheduled or dispatched it. Called only when w.tracer is set.

// startWorkflowTaskSpan starts the span of a workflow task once its run
// is loaded (env nil: it could not be), when the run's type and the
// trace of its start are known; it is backdated to began, when the task
// was taken.
func (w *Worker) startWorkflowTaskSpan(ctx context.Context, env *workflowEnv, t *workflowTask, delivered uint64, began time.Time) (context.Context, trace.Span) {
	parent, typ := t.Trace, ""
	if env != nil {
		typ = env.info.WorkflowType
		if env.trace != "" {
			parent = env.trace
		}
	}
	return w.tracer.t.Start(withParent(ctx, parent), "WorkflowTask:"+typ,
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(began),
		spanAttrs(t.WorkflowID, t.RunID, w.queue, attribute.String("foreman.workflow_type", typ), attribute.Int64("foreman.attempt", int64(delivered))))
}

// runAttempt runs one attempt of an activity (attempt), in a span when
// tracing is on.
func (w *Worker) runAttempt(ctx context.Context, t *activityTask, redelivered bool, inProgress func() (stop func())) attemptOutcome {
	if w.tracer == nil {
		return w.attempt(ctx, t, redelivered, inProgress)
	}
	ctx, span := w.tracer.t.Start(withParent(ctx, t.Trace), "Activity:"+t.ActivityType, trace.WithSpanKind(trace.SpanKindConsumer),
		spanAttrs(t.WorkflowID, t.RunID, w.queue, attribute.String("foreman.activity_type", t.ActivityType),
			attribute.Int64("foreman.activity_seq", t.Seq), attribute.Int("foreman.attempt", t.Attempt)))
	out := w.attempt(ctx, t, redelivered, inProgress)
	var err error
	if out.failure != nil {
		err = out.failure
	}
	endSpan(span, err)
	return out
}

// spanFailed marks ctx's span failed with err.
func spanFailed(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
