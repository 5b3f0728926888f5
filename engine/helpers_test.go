package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/enginetest"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// harness is one engine (store + services) with a client; workers are added
// per test.
type harness struct {
	t      *testing.T
	store  *jetstream.Store
	client *engine.Client
	ctx    context.Context
}

func quietLogger() *slog.Logger {
	if os.Getenv("FOREMAN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, engine.ServicesOptions{})
}

// newHarnessWith is newHarness running the services with opts.
func newHarnessWith(t *testing.T, opts engine.ServicesOptions) *harness {
	t.Helper()
	store, _ := jstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	opts.Logger = quietLogger()
	go func() {
		defer close(done)
		_ = engine.RunServicesWith(ctx, store, opts)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &harness{t: t, store: store, client: engine.NewClient(store, engine.ClientOptions{Identity: "tester"}), ctx: ctx}
}

// worker starts a worker on queue with the given registrations.
func (h *harness) worker(queue string, opts engine.WorkerOptions, register func(w *engine.Worker)) *engine.Worker {
	h.t.Helper()
	opts.Logger = quietLogger()
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 2 * time.Second
	}
	w := engine.NewWorker(h.store, queue, opts)
	register(w)
	if err := w.Start(h.ctx); err != nil {
		h.t.Fatalf("starting worker: %v", err)
	}
	h.t.Cleanup(w.Stop)
	return w
}

func (h *harness) start(id, queue string, wf any, input any) engine.Run {
	h.t.Helper()
	run, err := h.client.Start(h.ctx, engine.StartOptions{ID: id, TaskQueue: queue}, wf, input)
	if err != nil {
		h.t.Fatalf("start %s: %v", id, err)
	}
	return run
}

// result waits for the run's result (at most 20 s).
func (h *harness) result(id string, out any) error {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	err := h.client.GetResult(ctx, id, "", out)
	if errors.Is(err, context.DeadlineExceeded) {
		h.t.Fatalf("%s did not close in time; history:\n%s", id, h.dump(id))
	}
	return err
}

func (h *harness) mustResult(id string, out any) {
	h.t.Helper()
	if err := h.result(id, out); err != nil {
		h.t.Fatalf("%s failed: %v\nhistory:\n%s", id, err, h.dump(id))
	}
}

func (h *harness) history(id string) []engine.Event {
	h.t.Helper()
	events, err := h.client.History(h.ctx, id, "")
	if err != nil {
		h.t.Fatalf("history of %s: %v", id, err)
	}
	return events
}

func (h *harness) dump(id string) string {
	events, err := h.client.History(context.Background(), id, "")
	if err != nil {
		return err.Error()
	}
	return dumpEvents(events)
}

// newTestEnv is an engine on the test clock: timers, retries and timeouts
// take no wall time (see engine/enginetest).
func newTestEnv(t *testing.T, opts ...enginetest.Option) *enginetest.Env {
	t.Helper()
	return enginetest.New(t, append([]enginetest.Option{enginetest.WithLogger(quietLogger())}, opts...)...)
}

func dumpEvents(events []engine.Event) string {
	s := ""
	for _, e := range events {
		b, _ := json.Marshal(e.Attrs)
		s += fmt.Sprintf("  %3d %-26s %s\n", e.ID, e.Type, truncate(string(b), 160))
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// types lists the event types of a history.
func types(events []engine.Event) []engine.EventType {
	out := make([]engine.EventType, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// count counts events of type t.
func count(events []engine.Event, t engine.EventType) int {
	n := 0
	for _, e := range events {
		if e.Type == t {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForEvent waits until the run's history holds an event of type t.
func (h *harness) waitForEvent(id string, t engine.EventType) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%s in %s", t, id), func() bool {
		events, err := h.client.History(h.ctx, id, "")
		return err == nil && count(events, t) > 0
	})
}

// checkHistory asserts ids are 1..n without gaps or duplicates.
func checkHistory(t *testing.T, events []engine.Event) {
	t.Helper()
	for i, e := range events {
		if e.ID != int64(i+1) {
			t.Fatalf("event %d has id %d: history has a gap, duplicate or reordering", i+1, e.ID)
		}
	}
}
