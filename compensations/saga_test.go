package compensations_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// env is an engine on a real embedded JetStream, with helpers to run workers.
type env struct {
	t      *testing.T
	ctx    context.Context
	store  *jetstream.Store
	client *engine.Client
	log    *slog.Logger
}

func newEnv(t *testing.T) *env {
	store, _ := jstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
	done := make(chan struct{})
	go func() { defer close(done); _ = engine.RunServices(ctx, store, log) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, ctx: ctx, store: store, client: engine.NewClient(store, engine.ClientOptions{Identity: "oncall"}), log: log}
}

func (e *env) worker(queue string, register func(w *engine.Worker) error) *engine.Worker {
	e.t.Helper()
	w := engine.NewWorker(e.store, queue, engine.WorkerOptions{Logger: e.log, ShutdownTimeout: time.Second})
	if err := register(w); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(w.Stop)
	return w
}

func (e *env) waitStatus(id string, want engine.Status) *engine.Execution {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		x, err := e.client.Describe(e.ctx, id, "")
		if err == nil && x.Status == want {
			return x
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: status %v (err %v), want %s", id, x, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// journal records which activities ran, in order.
type journal struct {
	mu  sync.Mutex
	ran []string
}

func (j *journal) add(s string) { j.mu.Lock(); j.ran = append(j.ran, s); j.mu.Unlock() }
func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.ran)
}

func (j *journal) activities(failUndo func(string) error) map[string]any {
	step := func(name string) func(context.Context, string) (string, error) {
		return func(_ context.Context, in string) (string, error) {
			j.add(name + ":" + in)
			if name == "Ship" {
				return "", errors.New("carrier refused the parcel")
			}
			if failUndo != nil && len(name) > 4 && name[:4] == "Undo" {
				if err := failUndo(name); err != nil {
					return "", err
				}
			}
			return name + "-ok", nil
		}
	}
	return map[string]any{"Reserve": step("Reserve"), "Charge": step("Charge"), "Ship": step("Ship"),
		"UndoReserve": step("UndoReserve"), "UndoCharge": step("UndoCharge")}
}

func registerActivities(w *engine.Worker, acts map[string]any) error {
	for name, fn := range acts {
		if err := w.RegisterActivityWithName(name, fn); err != nil {
			return err
		}
	}
	return nil
}

var quick = engine.ActivityOptions{StartToCloseTimeout: 5 * time.Second, RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 1}}

// order runs Reserve and Charge, registering their compensations, then Ship
// (which fails) and compensates.
func order(ctx engine.Context, id string) (string, error) {
	ctx = engine.WithActivityOptions(ctx, quick)
	for _, step := range []struct{ do, undo string }{{"Reserve", "UndoReserve"}, {"Charge", "UndoCharge"}} {
		var out string
		if err := engine.ExecuteActivity(ctx, step.do, id).Get(ctx, &out); err != nil {
			return "", err
		}
		if err := compensations.Add(ctx, step.undo, out); err != nil {
			return "", err
		}
	}
	if err := engine.ExecuteActivity(ctx, "Ship", id).Get(ctx, nil); err != nil {
		if cerr := compensations.Compensate(ctx, compensations.Options{}); cerr != nil {
			return "", errors.Join(err, cerr)
		}
		return "", err
	}
	return "shipped", nil
}

// A forward step fails: the compensations run newest first, exactly once
// each, and the run ends compensated with its failure kept.
func TestForwardFailureCompensatesNewestFirst(t *testing.T) {
	e := newEnv(t)
	j := &journal{}
	e.worker("orders", func(w *engine.Worker) error {
		if err := w.RegisterWorkflowWithName("Order", order); err != nil {
			return err
		}
		return registerActivities(w, j.activities(nil))
	})
	if _, err := e.client.Start(e.ctx, engine.StartOptions{ID: "o-1", TaskQueue: "orders"}, "Order", "o-1"); err != nil {
		t.Fatal(err)
	}
	x := e.waitStatus("o-1", engine.StatusCompensated)
	want := []string{"Reserve:o-1", "Charge:o-1", "Ship:o-1", "UndoCharge:Charge-ok", "UndoReserve:Reserve-ok"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	if x.Failure == nil || x.Failure.Message == "" {
		t.Fatalf("a compensated run keeps the failure that caused it: %+v", x.Failure)
	}
	p, err := compensations.PlanOf(e.ctx, e.client, "o-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Compensated || len(p.Steps) != 2 || p.Steps[0].Activity != "UndoCharge" || p.Steps[0].Status != compensations.StepOK || p.Steps[1].Status != compensations.StepOK {
		t.Fatalf("plan %+v", p)
	}
	if _, err := compensations.Run(e.ctx, e.client, "o-1", "", "again"); !errors.Is(err, compensations.ErrNothingToCompensate) {
		t.Fatalf("compensating a compensated run: %v", err)
	}
}

// hold runs Reserve and Charge with their compensations, then waits for a
// signal that never comes: an execution an operator will terminate.
func hold(ctx engine.Context, id string) (string, error) {
	ctx = engine.WithActivityOptions(ctx, quick)
	for _, step := range []struct{ do, undo string }{{"Reserve", "UndoReserve"}, {"Charge", "UndoCharge"}} {
		var out string
		if err := engine.ExecuteActivity(ctx, step.do, id).Get(ctx, &out); err != nil {
			return "", err
		}
		opts := engine.ActivityOptions{TaskQueue: "payments", StartToCloseTimeout: 5 * time.Second,
			RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 3}}
		if err := compensations.Add(ctx, step.undo, out, opts); err != nil {
			return "", err
		}
	}
	engine.SetStatus(ctx, "waiting for the warehouse")
	engine.GetSignalChannel(ctx, "never").Receive(ctx, nil)
	return "done", nil
}

// An operator compensates a terminated execution whose workflow worker is
// gone: the plan runs on a worker that has the activities; a compensation
// that fails twice then succeeds is retried per its policy; the run ends
// compensated and its history says who did it.
func TestOperatorCompensatesTerminatedRun(t *testing.T) {
	e := newEnv(t)
	j := &journal{}
	var mu sync.Mutex
	failures := map[string]int{}
	failTwice := func(name string) error {
		mu.Lock()
		defer mu.Unlock()
		if name == "UndoCharge" && failures[name] < 2 {
			failures[name]++
			return errors.New("payment gateway timeout")
		}
		return nil
	}
	wfWorker := e.worker("orders", func(w *engine.Worker) error {
		if err := w.RegisterWorkflowWithName("Hold", hold); err != nil {
			return err
		}
		return registerActivities(w, j.activities(nil))
	})
	if _, err := e.client.Start(e.ctx, engine.StartOptions{ID: "o-2", TaskQueue: "orders"}, "Hold", "o-2"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if x, _ := e.client.Describe(e.ctx, "o-2", ""); x != nil && x.StatusLine == "waiting for the warehouse" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workflow never reached its wait")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.client.Terminate(e.ctx, "o-2", "", "warehouse closed"); err != nil {
		t.Fatal(err)
	}
	wfWorker.Stop() // the workflow's code is gone

	plan, err := compensations.PlanOf(e.ctx, e.client, "o-2", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Pending()) != 2 || plan.Steps[0].Activity != "UndoCharge" || plan.Steps[0].TaskQueue != "payments" {
		t.Fatalf("plan from history: %+v", plan)
	}
	// Only now do workers with the compensation activities and the compensation runner come up.
	e.worker("payments", func(w *engine.Worker) error { return registerActivities(w, j.activities(failTwice)) })
	e.worker(compensations.Queue, func(w *engine.Worker) error { return compensations.Register(w, e.client) })
	started, err := compensations.Run(e.ctx, e.client, "o-2", "", "order abandoned")
	if err != nil {
		t.Fatal(err)
	}
	if started.Via != compensations.CompensatorID(started.RunID) {
		t.Fatalf("via %q", started.Via)
	}
	x := e.waitStatus("o-2", engine.StatusCompensated)
	if got, want := j.get()[2:], []string{"UndoCharge:Charge-ok", "UndoCharge:Charge-ok", "UndoCharge:Charge-ok", "UndoReserve:Reserve-ok"}; !slices.Equal(got, want) {
		t.Fatalf("compensations ran %v, want %v", got, want)
	}
	if x.Failure == nil || x.Failure.Message != "warehouse closed" {
		t.Fatalf("failure %+v", x.Failure)
	}
	events, err := e.client.History(e.ctx, "o-2", "")
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1].Attrs.(*engine.RunCompensated)
	if last.Identity == "" || last.Via != started.Via || last.Steps != 2 {
		t.Fatalf("recorded %+v", last)
	}
	// The plan of a compensated run shows each step's outcome, not "pending".
	done, err := compensations.PlanOf(e.ctx, e.client, "o-2", "")
	if err != nil {
		t.Fatal(err)
	}
	if !done.Compensated || done.Via != started.Via || len(done.Pending()) != 0 ||
		done.Steps[0].Status != compensations.StepOK || done.Steps[1].Status != compensations.StepOK {
		t.Fatalf("plan of the compensated run: %+v", done)
	}
	if _, err := compensations.Run(e.ctx, e.client, "o-2", "", "twice"); !errors.Is(err, compensations.ErrNothingToCompensate) {
		t.Fatalf("second compensation: %v", err)
	}
}

// A compensation that keeps failing holds the compensation run with its
// error visible; the operator skips it, and the run is not marked compensated.
func TestFailingCompensationCanBeSkipped(t *testing.T) {
	e := newEnv(t)
	j := &journal{}
	always := func(name string) error {
		if name == "UndoCharge" {
			return errors.New("refund rejected: account closed")
		}
		return nil
	}
	e.worker("orders", func(w *engine.Worker) error {
		if err := w.RegisterWorkflowWithName("Hold", hold); err != nil {
			return err
		}
		return registerActivities(w, j.activities(nil))
	})
	e.worker("payments", func(w *engine.Worker) error { return registerActivities(w, j.activities(always)) })
	e.worker(compensations.Queue, func(w *engine.Worker) error { return compensations.Register(w, e.client) })
	if _, err := e.client.Start(e.ctx, engine.StartOptions{ID: "o-3", TaskQueue: "orders"}, "Hold", "o-3"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, _ := compensations.PlanOf(e.ctx, e.client, "o-3", ""); len(p.Steps) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workflow never registered its compensations")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Compensating a running run terminates it first.
	p, err := compensations.Run(e.ctx, e.client, "o-3", "", "customer cancelled")
	if err != nil {
		t.Fatal(err)
	}
	comp := p.Via
	deadline = time.Now().Add(10 * time.Second)
	for {
		x, _ := e.client.Describe(e.ctx, comp, "")
		if x != nil && x.StatusLine != "" && strings.Contains(x.StatusLine, "account closed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing step is not visible: %+v", x)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.client.Signal(e.ctx, comp, "", compensations.SignalSkip, nil); err != nil {
		t.Fatal(err)
	}
	var rep compensations.Report
	if err := e.client.GetResult(e.ctx, comp, "", &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Ran != 1 || len(rep.Skipped) != 1 {
		t.Fatalf("report %+v", rep)
	}
	x := e.waitStatus("o-3", engine.StatusTerminated)
	if x.Failure.Message != "compensating: customer cancelled" {
		t.Fatalf("terminated with %q", x.Failure.Message)
	}
	plan, _ := compensations.PlanOf(e.ctx, e.client, "o-3", "")
	if plan.Compensated || plan.Steps[0].Status != compensations.StepSkipped || plan.Steps[1].Status != compensations.StepOK {
		t.Fatalf("plan %+v", plan)
	}
}
