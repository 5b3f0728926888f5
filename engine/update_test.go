package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

func Double(ctx context.Context, n int) (int, error) { return 2 * n, nil }

// Tally keeps a total that the update "add" raises by twice its input
// (through an activity), validated: positive, and the total stays <= 100.
// The signal "done" ends it with the total; "again" continues it as new.
func Tally(ctx engine.Context, total int) (int, error) {
	actx := engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	err := engine.SetUpdateHandler(ctx, "add", func(ctx engine.Context, n int) (int, error) {
		var d int
		if err := engine.ExecuteActivity(actx, Double, n).Get(ctx, &d); err != nil {
			return 0, err
		}
		total += d
		return total, nil
	}, engine.UpdateHandlerOptions{Validator: func(ctx engine.Context, n int) error {
		if n <= 0 {
			return fmt.Errorf("amount must be positive, got %d", n)
		}
		if total+2*n > 100 {
			return fmt.Errorf("total would be %d, over 100", total+2*n)
		}
		return nil
	}})
	if err != nil {
		return 0, err
	}
	var what string
	engine.GetSignalChannel(ctx, "done").Receive(ctx, &what)
	if what == "again" {
		return 0, engine.NewContinueAsNewError(ctx, total)
	}
	return total, nil
}

func tallyHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.worker("tally", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflow(Tally))
		must(w.RegisterActivity(Double))
	})
	return h
}

func (h *harness) update(id, name string, in any, opts engine.UpdateOptions) (engine.UpdateResult, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	return h.client.Update(ctx, id, "", name, in, opts)
}

func TestUpdateRejectedLeavesNoEvent(t *testing.T) {
	h := tallyHarness(t)
	h.start("t1", "tally", Tally, 0)
	res, err := h.update("t1", "add", 5, engine.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v\n%s", err, h.dump("t1"))
	}
	var total int
	if err := res.Get(&total); err != nil || total != 10 || res.Stage != engine.WaitForCompleted {
		t.Fatalf("result %+v total %d err %v", res, total, err)
	}
	before := h.history("t1")
	for _, in := range []int{-1, 50} {
		_, err = h.update("t1", "add", in, engine.UpdateOptions{})
		if !errors.Is(err, engine.ErrUpdateRejected) {
			t.Fatalf("update add %d: got %v, want ErrUpdateRejected", in, err)
		}
		t.Logf("add %d: %v", in, err)
	}
	if !strings.Contains(err.Error(), "total would be 110, over 100") {
		t.Fatalf("the validator's error is not returned: %v", err)
	}
	if _, err := h.update("t1", "add", "five", engine.UpdateOptions{}); !errors.Is(err, engine.ErrUpdateRejected) {
		t.Fatalf("undecodable input: got %v", err)
	}
	if _, err := h.update("t1", "subtract", 1, engine.UpdateOptions{}); !errors.Is(err, engine.ErrUnknownUpdate) || !strings.Contains(err.Error(), "known: add") {
		t.Fatalf("unknown update: got %v", err)
	}
	if after := h.history("t1"); !reflect.DeepEqual(before, after) {
		t.Fatalf("a rejected update changed history:\nbefore\n%s\nafter\n%s", dumpEvents(before), dumpEvents(after))
	}
	must(h.client.Signal(h.ctx, "t1", "", "done", ""))
	h.mustResult("t1", &total)
	if total != 10 {
		t.Fatalf("total %d, want 10", total)
	}
	if _, err := h.update("t1", "add", 1, engine.UpdateOptions{}); !errors.Is(err, engine.ErrRunClosed) {
		t.Fatalf("update of a closed run: got %v, want ErrRunClosed", err)
	}
	if _, err := h.update("nope", "add", 1, engine.UpdateOptions{}); !errors.Is(err, engine.ErrWorkflowNotFound) {
		t.Fatalf("update of an unknown workflow: got %v", err)
	}
}

func TestUpdateDeduplicatedByID(t *testing.T) {
	h := tallyHarness(t)
	h.start("t2", "tally", Tally, 0)
	first, err := h.update("t2", "add", 3, engine.UpdateOptions{UpdateID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.update("t2", "add", 7, engine.UpdateOptions{UpdateID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	if string(first.Result) != "6" || string(again.Result) != "6" || again.UpdateID != "u-1" {
		t.Fatalf("first %s, repeated %s: want the first result (6) twice", first.Result, again.Result)
	}
	acc, err := h.update("t2", "add", 1, engine.UpdateOptions{UpdateID: "u-2", WaitFor: engine.WaitForAccepted})
	if err != nil || acc.Stage == "" {
		t.Fatalf("wait for accepted: %+v %v", acc, err)
	}
	done, err := h.client.AwaitUpdate(h.ctx, "t2", "", "u-2")
	if err != nil || string(done.Result) != "8" || done.Stage != engine.WaitForCompleted {
		t.Fatalf("await u-2: %+v %v", done, err)
	}
	events := h.history("t2")
	if n, m := count(events, engine.EventUpdateAccepted), count(events, engine.EventUpdateCompleted); n != 2 || m != 2 {
		t.Fatalf("%d accepted, %d completed, want 2 and 2:\n%s", n, m, dumpEvents(events))
	}
	x, err := h.client.Describe(h.ctx, "t2", "")
	if err != nil || len(x.Updates) != 2 || !x.Updates[1].Completed {
		t.Fatalf("describe: %+v %v", x.Updates, err)
	}
}

func TestUpdateWithContinueAsNew(t *testing.T) {
	h := tallyHarness(t)
	h.start("t3", "tally", Tally, 0)
	if _, err := h.update("t3", "add", 2, engine.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	must(h.client.Signal(h.ctx, "t3", "", "done", "again"))
	// the current run continued as new: the update goes to its successor,
	// which carries the total on
	res, err := h.update("t3", "add", 3, engine.UpdateOptions{})
	if err != nil || string(res.Result) != "10" {
		t.Fatalf("update after continue-as-new: %+v %v\n%s", res, err, h.dump("t3"))
	}
}

// A reset to the workflow task that accepted an update keeps the
// acceptance: the new run runs the handler again and completes it once,
// and the update id still deduplicates there. A reset to before the
// acceptance drops it: the same id is accepted anew by the new run.
func TestUpdateAcrossReset(t *testing.T) {
	h := tallyHarness(t)
	h.start("t4", "tally", Tally, 0)
	if _, err := h.update("t4", "add", 4, engine.UpdateOptions{UpdateID: "r-1"}); err != nil {
		t.Fatal(err)
	}
	events := h.history("t4")
	var boundary int64
	for i, e := range events {
		if e.Type == engine.EventUpdateAccepted {
			for _, f := range events[i:] {
				if f.Type == engine.EventWorkflowTaskCompleted {
					boundary = f.ID
					break
				}
			}
		}
	}
	res, err := h.client.Reset(h.ctx, "t4", "", engine.ResetOptions{To: fmt.Sprint(boundary), Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.update("t4", "add", 4, engine.UpdateOptions{UpdateID: "r-1"})
	if err != nil || string(again.Result) != "8" || again.RunID != res.NewRunID {
		t.Fatalf("r-1 in the reset run: %+v %v\n%s", again, err, h.dump("t4"))
	}
	newEvents := h.history("t4")
	if n, m := count(newEvents, engine.EventUpdateAccepted), count(newEvents, engine.EventUpdateCompleted); n != 1 || m != 1 {
		t.Fatalf("the reset run has %d acceptances and %d completions of r-1, want 1 and 1:\n%s", n, m, dumpEvents(newEvents))
	}
	if _, err := h.client.Reset(h.ctx, "t4", "", engine.ResetOptions{To: engine.ResetFirst, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	third, err := h.update("t4", "add", 1, engine.UpdateOptions{UpdateID: "r-1"})
	if err != nil || string(third.Result) != "2" {
		t.Fatalf("r-1 after a reset to the start: %+v %v (want a new acceptance: total 2)", third, err)
	}
}

// Hold's update "wait" sleeps an hour; the signal "done" completes the
// run, "again" continues it as new, and a cancel request cancels it (and
// the handler's sleep).
func Hold(ctx engine.Context) (int, error) {
	if err := engine.SetUpdateHandler(ctx, "wait", func(ctx engine.Context) (int, error) {
		return 1, engine.Sleep(ctx, time.Hour)
	}, engine.UpdateHandlerOptions{}); err != nil {
		return 0, err
	}
	again := false
	s := engine.NewSelector(ctx)
	s.AddReceive(engine.GetSignalChannel(ctx, "done"), func(engine.Channel, bool) {})
	s.AddReceive(engine.GetSignalChannel(ctx, "again"), func(engine.Channel, bool) { again = true })
	s.AddReceive(ctx.Done(), func(engine.Channel, bool) {})
	s.Select(ctx)
	if again {
		return 0, engine.NewContinueAsNewError(ctx, nil)
	}
	return 0, ctx.Err()
}

// An update whose handler has not returned when the run closes is
// aborted: its caller gets ErrUpdateAborted (or, on a cancel, the
// handler's own cancellation as ErrUpdateFailed), never a hang.
func TestUpdateAbortedWhenRunCloses(t *testing.T) {
	h := newHarness(t)
	h.worker("hold", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflow(Hold)) })
	for _, c := range []struct {
		id    string
		close func() error
	}{
		{"h-done", func() error { return h.client.Signal(h.ctx, "h-done", "", "done", nil) }},
		{"h-cancel", func() error { return h.client.Cancel(h.ctx, "h-cancel", "", "test") }},
		{"h-again", func() error { return h.client.Signal(h.ctx, "h-again", "", "again", nil) }},
	} {
		h.start(c.id, "hold", Hold, nil)
		acc, err := h.update(c.id, "wait", nil, engine.UpdateOptions{WaitFor: engine.WaitForAccepted})
		if err != nil {
			t.Fatal(err)
		}
		must(c.close())
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		_, err = h.client.AwaitUpdate(ctx, c.id, acc.RunID, acc.UpdateID)
		cancel()
		if !errors.Is(err, engine.ErrUpdateAborted) && !errors.Is(err, engine.ErrUpdateFailed) {
			t.Fatalf("%s: waiting for the update of a closed run: %v\n%s", c.id, err, h.dump(c.id))
		}
		t.Logf("%s: %v", c.id, err)
	}
}

// Turnstile's update "enter" is valid only once the signal "open" was
// processed; the signal's coroutine records it.
func Turnstile(ctx engine.Context) (int, error) {
	open, entered := false, 0
	if err := engine.SetUpdateHandler(ctx, "enter", func(ctx engine.Context) (int, error) {
		entered++
		return entered, nil
	}, engine.UpdateHandlerOptions{Validator: func(ctx engine.Context) error {
		if !open {
			return errors.New("closed")
		}
		return nil
	}}); err != nil {
		return 0, err
	}
	engine.GetSignalChannel(ctx, "open").Receive(ctx, nil)
	open = true
	engine.GetSignalChannel(ctx, "done").Receive(ctx, nil)
	return entered, nil
}

// The validator sees every input acknowledged before the update was sent:
// an update right after the signal that makes it valid is accepted (the
// worker runs the signal's workflow task first, then validates).
func TestUpdateValidatorSeesEarlierSignal(t *testing.T) {
	h := newHarness(t)
	h.worker("turn", engine.WorkerOptions{}, func(w *engine.Worker) { must(w.RegisterWorkflow(Turnstile)) })
	for i := range 5 {
		id := fmt.Sprintf("turn-%d", i)
		h.start(id, "turn", Turnstile, nil)
		if _, err := h.update(id, "enter", nil, engine.UpdateOptions{}); !errors.Is(err, engine.ErrUpdateRejected) {
			t.Fatalf("%s: enter before open: %v, want rejected", id, err)
		}
		must(h.client.Signal(h.ctx, id, "", "open", nil))
		if res, err := h.update(id, "enter", nil, engine.UpdateOptions{}); err != nil || string(res.Result) != "1" {
			t.Fatalf("%s: enter right after open: %+v %v", id, res, err)
		}
	}
}

// With operator events signed, an update keeps its sender only when the
// engine signed the request: a forged acceptance claiming an operator is
// shown without one (the claim kept as unverified).
func TestUpdateSenderVouchedByEngine(t *testing.T) {
	h, other := signedHarness(t)
	h.worker("tally", engine.WorkerOptions{}, func(w *engine.Worker) {
		must(w.RegisterWorkflow(Tally))
		must(w.RegisterActivity(Double))
	})
	run := h.start("t5", "tally", Tally, 0)
	if _, err := h.update("t5", "add", 1, engine.UpdateOptions{UpdateID: "real"}); err != nil {
		t.Fatal(err)
	}
	forge(t, other, run.RunID, "t5", engine.EventUpdateAccepted, &engine.UpdateAccepted{UpdateID: "fake", Name: "add", Input: json.RawMessage(`1`), Identity: "ceo"})
	x, err := h.client.Describe(h.ctx, "t5", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range x.Updates {
		got[u.UpdateID] = u.Identity
	}
	if got["real"] != "tester" || got["fake"] != "" || len(got) != 2 {
		t.Fatalf("senders %v: want tester for the engine's update and none for the forged one", got)
	}
	for _, e := range h.history("t5") {
		if a, ok := e.Attrs.(*engine.UpdateAccepted); ok && a.UpdateID == "fake" && a.Unverified != "ceo" {
			t.Fatalf("forged update read as %+v", a)
		}
	}
}
