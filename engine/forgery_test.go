package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// signedHarness is an engine whose store signs operator events (as
// foreman-engine's does) and a second connection that does not hold the
// key: a worker's, or a forger's with a worker credential.
func signedHarness(t *testing.T) (h *harness, other *jetstream.Store) {
	t.Helper()
	h = newHarness(t)
	if err := h.store.EnableSigning(h.ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := h.store.EnableAudit(h.ctx, 0); err != nil {
		t.Fatal(err)
	}
	nc, err := jetstream.Connect(h.ctx, h.store.Conn().ConnectedUrl(), jetstream.Options{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	other, err = jetstream.Open(h.ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	return h, other
}

// plainAndSigned runs body on a bare engine and on one that signs operator
// events, its worker verifying them.
func plainAndSigned(t *testing.T, body func(t *testing.T, h *harness)) {
	t.Run("plain", func(t *testing.T) { body(t, newHarness(t)) })
	t.Run("signed", func(t *testing.T) {
		h, other := signedHarness(t)
		h.store = other
		body(t, h)
	})
}

// forge appends ev to run's history as a raw client would: unsigned.
func forge(t *testing.T, s *jetstream.Store, runID, workflowID string, typ engine.EventType, attrs any) {
	t.Helper()
	ctx := context.Background()
	last, err := s.LastBatch(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	id := last.Header.LastEventID + 1
	b := engine.Batch{Kind: engine.BatchExternal, Events: []engine.Event{{ID: id, Type: typ, Time: time.Now().UTC(), Attrs: attrs}}}
	data, _ := json.Marshal(&b)
	h := engine.BatchHeader{RunID: runID, WorkflowID: workflowID, TaskQueue: last.Header.TaskQueue, Kind: engine.BatchExternal,
		FirstEventID: id, LastEventID: id, Closed: typ.Closes(), Wake: !typ.Closes()}
	if _, err := s.AppendHistory(ctx, h, data, last.Seq, ""); err != nil {
		t.Fatal(err)
	}
}

func TestForgedOperatorEventsTakeNoEffect(t *testing.T) {
	h, other := signedHarness(t)
	eng := h.store
	// the worker reads history through the other connection: it verifies
	h.store = other
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Expense", approvalFlow(0))) })
	run := h.start("f1", "q", "Expense", nil)
	h.waitForEvent("f1", engine.EventApprovalRequested)

	forge(t, other, run.RunID, "f1", engine.EventApprovalDecided, &engine.ApprovalDecided{Seq: 1, Name: "manager", Approved: true, By: "alice"})
	forge(t, other, run.RunID, "f1", engine.EventSignalReceived, &engine.SignalReceived{Name: "nudge", Identity: "alice"})
	forge(t, other, run.RunID, "f1", engine.EventWorkflowTerminated, &engine.WorkflowTerminated{Reason: "forged", Identity: "alice"})

	// the engine reopens the run after the forged close
	reader := engine.NewClient(other, engine.ClientOptions{Identity: "reader"})
	jstest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		last, err := other.LastBatch(h.ctx, run.RunID)
		if err != nil || last.Header.Closed {
			return errors.New("the run's last batch is still the forged close")
		}
		return nil
	})
	x, err := reader.Describe(h.ctx, "f1", "")
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != engine.StatusRunning || len(x.Approvals) != 1 || x.Forgeries < 3 || len(x.Signals) != 0 {
		t.Fatalf("after forgeries: status %s, approvals %d, forgeries %d, signals %v", x.Status, len(x.Approvals), x.Forgeries, x.Signals)
	}
	// the genuine decision, by the engine's client, decides
	must(h.client.Decide(h.ctx, "f1", "", "manager", true, "real"))
	var res approvalResult
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	if err := reader.GetResult(ctx, "f1", "", &res); err != nil || res.By != "tester" || res.Comment != "real" {
		t.Fatalf("result %+v, %v: want the genuine decision by tester", res, err)
	}

	// a client without the key forwards to the engine (none serves here)
	if err := reader.Signal(h.ctx, "f1", "", "x", nil); !errors.Is(err, engine.ErrNoResponders) {
		t.Fatalf("a client without the key appended instead of asking the engine: %v", err)
	}
	forged := 0
	_ = eng.ReadAudit(h.ctx, false, func(r audit.Record) error {
		if r.Outcome == audit.Forged && r.Principal == "alice" {
			forged++
		}
		return nil
	})
	if forged != 3 {
		t.Fatalf("audit holds %d forgery records, want 3", forged)
	}
}

// A client that connected while the engine started read "no key" before
// the engine published its signing key. Once the key is published, its
// operator actions must go to the engine (which signs them), not be
// appended unsigned: the engine rejects an unsigned decision as forged,
// after the client was told it was recorded, and the run waits for good.
// (cmd/engine's TestEngineBinaryEndToEnd stalled so under load: its
// Decide became an OperatorEventRejected.)
func TestClientThatSawNoKeyForwardsOnceTheKeyIsPublished(t *testing.T) {
	h := newHarness(t) // no key yet: foreman-engine is still starting
	nc, err := jetstream.Connect(h.ctx, h.store.Conn().ConnectedUrl(), jetstream.Options{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	other, err := jetstream.Open(h.ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	ops := engine.NewClient(other, engine.ClientOptions{Identity: "tester"})
	h.worker("q", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflowWithName("Expense", approvalFlow(0))) })
	h.start("k1", "q", "Expense", nil)
	h.waitForEvent("k1", engine.EventApprovalRequested)
	if _, err := ops.Describe(h.ctx, "k1", ""); err != nil { // reads history: "no key", remembered
		t.Fatal(err)
	}

	// the engine finishes starting: from now on it signs, and rejects
	// the unsigned
	if err := h.store.EnableSigning(h.ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	// no action service runs here: a forwarded decision finds nobody
	if err := ops.Decide(h.ctx, "k1", "", "manager", true, "ship it"); !errors.Is(err, engine.ErrNoResponders) {
		t.Fatalf("decision of a client that saw no key before the engine published one: %v, want it forwarded to the engine (%v)\n%s",
			err, engine.ErrNoResponders, h.dump("k1"))
	}
	if err := ops.Signal(h.ctx, "k1", "", "nudge", nil); !errors.Is(err, engine.ErrNoResponders) {
		t.Fatalf("signal of a client that saw no key before the engine published one: %v, want it forwarded to the engine", err)
	}
	for _, e := range h.history("k1") {
		if e.Type == engine.EventOperatorEventRejected || e.Type == engine.EventApprovalDecided || e.Type == engine.EventSignalReceived {
			t.Fatalf("the client appended an operator event itself: %s\n%s", e.Type, h.dump("k1"))
		}
	}
	// the engine's own client decides, signed: the run completes
	must(h.client.Decide(h.ctx, "k1", "", "manager", true, "ship it"))
	var res approvalResult
	h.mustResult("k1", &res)
	if !res.Approved || res.By != "tester" {
		t.Fatalf("result %+v, want approved by tester", res)
	}
}
