package examples_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/enginetest"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// env is one engine (embedded JetStream, services) running the example
// workers, with a client. Subtests of one test share it, unless it runs on
// the test clock (newClockEnv): then each has its own, as moving time for
// one would move it for all.
type env struct {
	t      *testing.T
	ctx    context.Context
	store  engine.Store
	client *engine.Client
	clock  *enginetest.Env // nil on the wall clock
}

func quietLogger() *slog.Logger {
	level := slog.LevelError + 4
	if os.Getenv("FOREMAN_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, _ := jstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = engine.RunServices(ctx, store, quietLogger())
	}()
	t.Cleanup(func() { cancel(); <-done })
	stop, err := examples.StartWorkers(ctx, store, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return &env{t: t, ctx: ctx, store: store, client: engine.NewClient(store, engine.ClientOptions{Identity: "tester"})}
}

// newClockEnv is an engine on the test clock (engine/enginetest): the
// examples' real timeouts and periods (72 h, 30 days) take milliseconds.
// Result moves the clock whenever everything has settled.
func newClockEnv(t *testing.T) *env {
	t.Helper()
	te := enginetest.New(t, enginetest.WithLogger(quietLogger()))
	stop, err := examples.StartWorkers(te.Context(), te.Store(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return &env{t: t, ctx: te.Context(), store: te.Store(), client: te.Client(), clock: te}
}

// as returns a client acting as identity (approvals record who decided).
func (e *env) as(identity string) *engine.Client {
	return engine.NewClient(e.store, engine.ClientOptions{Identity: identity})
}

func (e *env) start(t *testing.T, id, queue string, wf, in any) {
	t.Helper()
	if _, err := e.client.Start(e.ctx, engine.StartOptions{ID: id, TaskQueue: queue}, wf, in); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
}

// result waits (at most 20 s) for the run to close and decodes its result.
func (e *env) result(t *testing.T, id string, out any) error {
	t.Helper()
	if e.clock != nil {
		return e.clock.Result(engine.Run{WorkflowID: id}, out)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	err := e.client.GetResult(ctx, id, "", out)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s did not close in time; history:\n%s", id, e.dump(id))
	}
	return err
}

func (e *env) mustResult(t *testing.T, id string, out any) {
	t.Helper()
	if err := e.result(t, id, out); err != nil {
		t.Fatalf("%s failed: %v\nhistory:\n%s", id, err, e.dump(id))
	}
}

func (e *env) describe(t *testing.T, id string) *engine.Execution {
	t.Helper()
	x, err := e.client.Describe(e.ctx, id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return x
}

func (e *env) history(t *testing.T, id string) []engine.Event {
	t.Helper()
	events, err := e.client.History(e.ctx, id, "")
	if err != nil {
		t.Fatalf("history of %s: %v", id, err)
	}
	return events
}

// waitFor polls cond (at most 20 s); its error says what is still missing.
func (e *env) waitFor(t *testing.T, id string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v; history:\n%s", id, err, e.dump(id))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForApproval waits until the run has a pending approval called name.
func (e *env) waitForApproval(t *testing.T, id, name string) engine.PendingApproval {
	t.Helper()
	var got engine.PendingApproval
	e.waitFor(t, id, func() error {
		x, err := e.client.Describe(e.ctx, id, "")
		if err != nil {
			return err
		}
		for _, a := range x.Approvals {
			if a.Name == name {
				got = a
				return nil
			}
		}
		return fmt.Errorf("no pending approval %q (pending: %+v)", name, x.Approvals)
	})
	return got
}

func (e *env) dump(id string) string {
	events, err := e.client.History(context.Background(), id, "")
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, ev := range events {
		attrs, _ := json.Marshal(ev.Attrs)
		s := string(attrs)
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		fmt.Fprintf(&b, "  %3d %-26s %s\n", ev.ID, ev.Type, s)
	}
	return b.String()
}

// activities lists, in history order, the activity types a run scheduled.
func activities(events []engine.Event) []string {
	var out []string
	for _, ev := range events {
		if a, ok := ev.Attrs.(*engine.ActivityScheduled); ok {
			out = append(out, a.ActivityType)
		}
	}
	return out
}

// attemptFailures returns the failed attempts of activity typ.
func attemptFailures(events []engine.Event, typ string) []*engine.ActivityAttemptFailed {
	seqs := map[int64]bool{}
	var out []*engine.ActivityAttemptFailed
	for _, ev := range events {
		switch a := ev.Attrs.(type) {
		case *engine.ActivityScheduled:
			seqs[a.Seq] = a.ActivityType == typ
		case *engine.ActivityAttemptFailed:
			if seqs[a.Seq] {
				out = append(out, a)
			}
		}
	}
	return out
}

func countEvents(events []engine.Event, typ engine.EventType) int {
	n := 0
	for _, ev := range events {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// wantAppError asserts err is a workflow failure of the given type.
func wantAppError(t *testing.T, err error, typ string) *engine.ApplicationError {
	t.Helper()
	var app *engine.ApplicationError
	if !errors.As(err, &app) || app.Type != typ {
		t.Fatalf("want a %s failure, got %v", typ, err)
	}
	return app
}
