package enginetest

import (
	"log/slog"
	"os"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// DefaultStart is the test clock's time when an environment starts: fixed,
// so that runs and their histories are the same on every run of a test.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Option configures an environment.
type Option func(*options)

type options struct {
	start   time.Time
	timeout time.Duration
	log     *slog.Logger
	worker  engine.WorkerOptions
}

// WithStartTime sets the test clock's starting time.
func WithStartTime(t time.Time) Option { return func(o *options) { o.start = t } }

// WithTimeout bounds, in real time, each wait of the environment (Result,
// Advance, WaitIdle); past it the test fails with what was still in flight
// (default 30 s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithLogger sets the engine's logger (default: errors are not logged
// unless FOREMAN_TEST_LOG is set, then everything is).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithWorkerOptions configures the environment's worker.
func WithWorkerOptions(wo engine.WorkerOptions) Option { return func(o *options) { o.worker = wo } }

func quietLogger() *slog.Logger {
	level := slog.LevelError + 4
	if os.Getenv("FOREMAN_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
