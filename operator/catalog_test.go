package operator_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/operator/operatortest"
)

// TestReadOnlyRefusesANewWriteWithoutExtraCode registers a write action the
// decorator has never heard of: declaring it a write is all it takes for
// read-only mode to refuse it, before its Do runs.
func TestReadOnlyRefusesANewWriteWithoutExtraCode(t *testing.T) {
	cat := operator.Default.Clone()
	var pokes, peeks atomic.Int32
	cat.Register(operator.Action{Name: "poke", Write: true,
		Do: func(context.Context, operator.Env, operator.Target, operator.Params) (operator.Outcome, error) {
			pokes.Add(1)
			return operator.Outcome{Detail: "poked"}, nil
		}})
	cat.Register(operator.Action{Name: "peek",
		Do: func(context.Context, operator.Env, operator.Target, operator.Params) (operator.Outcome, error) {
			peeks.Add(1)
			return operator.Outcome{Detail: "peeked"}, nil
		}})
	env := func(context.Context) (operator.Env, error) { return operator.Env{Identity: "alice"}, nil }
	ctx := context.Background()
	run := operator.Target{WorkflowID: "wf", RunID: "r1"}

	// Without the decorator the write goes through: the test can fail.
	if _, err := operator.New(cat, env).Perform(ctx, operator.Request{Action: "poke", Target: run}); err != nil || pokes.Load() != 1 {
		t.Fatalf("plain poke: err %v, %d pokes", err, pokes.Load())
	}

	ro := operator.ReadOnly(cat, operator.New(cat, env))
	_, err := ro.Perform(ctx, operator.Request{Action: "poke", Target: run})
	var roErr *operator.ReadOnlyError
	if !errors.Is(err, operator.ErrReadOnly) || !errors.As(err, &roErr) || roErr.Action != "poke" {
		t.Fatalf("read-only poke: %v", err)
	}
	if err := ro.Check(operator.Request{Action: "poke"}); !errors.Is(err, operator.ErrReadOnly) {
		t.Fatalf("read-only check of poke: %v", err)
	}
	if pokes.Load() != 1 {
		t.Fatalf("read-only let poke run: %d pokes", pokes.Load())
	}
	// Reads pass, and so do dry runs (no Do that ignores DryRun is reached).
	if out, err := ro.Perform(ctx, operator.Request{Action: "peek", Target: run}); err != nil || out.Detail != "peeked" {
		t.Fatalf("read-only peek: %v %+v", err, out)
	}
	if _, err := ro.Perform(ctx, operator.Request{Action: "poke", Target: run, Params: operator.Params{DryRun: true}}); err != nil || pokes.Load() != 1 {
		t.Fatalf("dry-run poke: err %v, %d pokes", err, pokes.Load())
	}
	// What the catalog cannot vouch for is refused too.
	if _, err := ro.Perform(ctx, operator.Request{Action: "unheard-of"}); !errors.Is(err, operator.ErrReadOnly) {
		t.Fatalf("read-only unknown action: %v", err)
	}
	// Every built-in write is refused the same way.
	for _, a := range operator.Default.Actions() {
		if err := ro.Check(operator.Request{Action: a.Name}); errors.Is(err, operator.ErrReadOnly) != a.Write {
			t.Errorf("%s (write %v): check says %v", a.Name, a.Write, err)
		}
	}
}

// TestCatalogDeclaresEveryBuiltin checks each entry says what it needs to
// be used by the CLI, the console and a batch.
func TestCatalogDeclaresEveryBuiltin(t *testing.T) {
	for _, a := range operator.Default.Actions() {
		if a.Summary == "" {
			t.Errorf("%s has no summary", a.Name)
		}
		if a.Destructive && !a.Write {
			t.Errorf("%s is destructive but not a write", a.Name)
		}
		if a.Destructive && !a.Needs.Confirm {
			t.Errorf("%s is destructive and needs no confirmation", a.Name)
		}
	}
	for _, name := range []string{operator.ActSignal, operator.ActApprove, operator.ActReject, operator.ActCancel, operator.ActTerminate,
		operator.ActReset, operator.ActCompensate, operator.ActCompensateRetry, operator.ActCompensateSkip} {
		a, ok := operator.Default.Lookup(name)
		if !ok || a.Args == nil || a.Took == nil {
			t.Errorf("%s cannot run in a resumable batch (declared %v, Args or Took missing)", name, ok)
		}
	}
}

// TestCatalogStatesMatchTheEngine: an action the catalog says needs a
// running run is refused by the engine on a closed one.
func TestCatalogStatesMatchTheEngine(t *testing.T) {
	e := operatortest.Start(t)
	run := e.StartIdle(t, "closed", 1)[0]
	ctx := context.Background()
	if err := e.Client.Terminate(ctx, run.WorkflowID, run.RunID, "closing it"); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, a := range operator.Default.Actions() {
		if a.Allows(engine.StatusTerminated) || !a.Allows(engine.StatusRunning) {
			continue
		}
		checked++
		p := operator.Params{Name: "poke", Approval: "release", Reason: "test"}
		_, err := e.Actions.Perform(ctx, operator.Request{Action: a.Name, Target: run, Params: p})
		if !errors.Is(err, engine.ErrRunClosed) {
			t.Errorf("%s on a terminated run: %v, want %v", a.Name, err, engine.ErrRunClosed)
		}
	}
	if checked < 5 {
		t.Fatalf("checked %d actions, want signal, approve, reject, cancel and terminate", checked)
	}
}
