package engine

import (
	"log/slog"
	"time"

	"github.com/foremanhq/foreman/internal/lograte"
)

// Log lines about a run carry its workflow_id, run_id and, where there is
// one, attempt (a workflow task's delivery, an activity's attempt); the
// worker's logger adds its queue, the dispatcher's the run's. Lines are
// built only when written: nothing here runs on the success path.

// runArgs are a line's attributes about a run, then more.
func runArgs(workflowID, runID string, attempt int, more ...any) []any {
	return append([]any{"workflow_id", workflowID, "run_id", runID, "attempt", attempt}, more...)
}

// repeatKeys tell repeated failures apart in a rate-limited log (one line
// per failure, then one summary per window for its repeats): the same
// message about another activity type, error type or code is a failure
// of its own; another run failing the same way is a repeat.
var repeatKeys = []string{"activity_type", "error_type", "code"}

// NewLogHandler wraps h so that a failure repeated within window (same
// level, message and activity type, error type or code) is written once,
// with a count of the repeats at the window's end (window <= 0: 10 s).
// Workers wrap their logger so unless it is one already; processes that
// log for the engine (foreman-engine) use it for theirs.
func NewLogHandler(h slog.Handler, window time.Duration) slog.Handler {
	return lograte.NewKeyed(h, window, repeatKeys...)
}

// workerLogger is the worker's logger: l rate-limited (unless it is
// already, or window < 0), with the worker's queue on every line.
func workerLogger(l *slog.Logger, window time.Duration, queue string) *slog.Logger {
	if _, limited := l.Handler().(*lograte.Handler); !limited && window >= 0 {
		l = slog.New(NewLogHandler(l.Handler(), window))
	}
	return l.With("queue", queue)
}

// logAttemptFailed writes one line per failed activity attempt (the retry
// policy then decides: retry or fail the activity).
func (w *Worker) logAttemptFailed(t *activityTask, f *Failure) {
	w.log.Warn("activity attempt failed", runArgs(t.WorkflowID, t.RunID, t.Attempt,
		"activity_type", t.ActivityType, "activity_seq", t.Seq, "error_type", f.Type, "err", f.Message)...)
}
