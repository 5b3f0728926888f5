package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// The closing batch says "lone" (no parent, no child: the dispatcher skips
// reading the run) only when its closer knows; a run with family, or a
// close by someone who does not read the run, leaves it unset.
func TestCloseHeaderSaysLoneOnlyWhenKnown(t *testing.T) {
	h := newHarness(t)
	childWorkers(h, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Parent", func(ctx engine.Context, n int) (int, error) {
			var r int
			err := engine.ExecuteChildWorkflow(ctx, "Double", n, engine.ChildWorkflowOptions{ID: "lone-kid"}).Get(ctx, &r)
			return r, err
		}))
		must(w.RegisterWorkflowWithName("Fails", func(ctx engine.Context) error { return errors.New("no") }))
	})
	h.start("plain", "q", "Double", 1)
	h.mustResult("plain", nil)
	h.start("fails", "q", "Fails", nil)
	if err := h.result("fails", nil); err == nil {
		t.Fatal("Fails completed")
	}
	h.start("dad", "q", "Parent", 1)
	h.mustResult("dad", nil)
	h.mustResult("lone-kid", nil)
	h.start("ended", "q", "Waiter", nil)
	h.waitForEvent("ended", engine.EventWorkflowTaskCompleted)
	must(h.client.Terminate(h.ctx, "ended", "", "by hand"))
	for id, want := range map[string]bool{"plain": true, "fails": true, "dad": false, "lone-kid": false, "ended": false} {
		x, err := h.client.Describe(h.ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		last, err := h.store.LastBatch(h.ctx, x.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if !last.Header.Closed || last.Header.Lone != want {
			t.Errorf("%s: closing batch header %+v, want lone %v", id, last.Header, want)
		}
	}
}

// Every kind of close of a parent applies its open child's parent close
// policy, and every kind of close of a child reaches its waiting parent:
// whoever closes, the family is told (the lone flag must never hide it).
func TestFamilyToldOnEveryKindOfClose(t *testing.T) {
	h := newHarness(t)
	// Looper waits for signals forever, closing as its argument says when
	// told to by a signal; on "lim" it is terminated at the history limit.
	looper := func(ctx engine.Context, kid string) (string, error) {
		if kid != "" {
			// disconnected: a cancel of the parent does not reach it, its
			// parent close policy alone ends it
			kctx, _ := engine.NewDisconnectedContext(ctx)
			f := engine.ExecuteChildWorkflow(kctx, "Waiter", nil, engine.ChildWorkflowOptions{ID: kid, TaskQueue: "q", ParentClosePolicy: engine.ParentCloseTerminate})
			if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
				return "", err
			}
		}
		for {
			var how string
			sel := engine.NewSelector(ctx)
			sel.AddReceive(engine.GetSignalChannel(ctx, "close"), func(c engine.Channel, more bool) { c.Receive(ctx, &how) })
			sel.AddReceive(ctx.Done(), func(engine.Channel, bool) {})
			sel.Select(ctx)
			switch {
			case ctx.Err() != nil:
				return "", ctx.Err()
			case how == "complete":
				return "done", nil
			case how == "fail":
				return "", engine.NewApplicationError("Told", "told to fail", true)
			case how == "continue":
				return "", engine.NewContinueAsNewError(ctx, "")
			}
		}
	}
	childWorkers(h, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Looper", looper))
		must(w.RegisterWorkflowWithName("Dad", func(ctx engine.Context, queue string) (string, error) {
			var r string
			err := engine.ExecuteChildWorkflow(ctx, "Looper", "", engine.ChildWorkflowOptions{ID: engine.GetInfo(ctx).WorkflowID + "-kid", TaskQueue: queue}).Get(ctx, &r)
			var ce *engine.ChildWorkflowError
			if errors.As(err, &ce) {
				return "child " + string(ce.Status), nil
			}
			return "child said " + r, err
		}))
	})
	h.worker("lim", engine.WorkerOptions{HistoryLimit: 30}, func(w *engine.Worker) {
		must(w.RegisterWorkflowWithName("Looper", looper))
	})
	// closeBy closes the run of id the way how says.
	closeBy := func(id, how string) {
		t.Helper()
		switch how {
		case "terminate":
			must(h.client.Terminate(h.ctx, id, "", "by hand"))
		case "cancel":
			must(h.client.Cancel(h.ctx, id, "", "by hand"))
		case "limit":
			for range 200 { // each signal grows its history until the limit ends it
				if err := h.client.Signal(h.ctx, id, "", "close", "nothing"); errors.Is(err, engine.ErrRunClosed) {
					return
				} else if err != nil {
					t.Fatalf("signal %s: %v", id, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Fatalf("%s never reached its history limit:\n%s", id, h.dump(id))
		default:
			must(h.client.Signal(h.ctx, id, "", "close", how))
		}
	}
	ways := []string{"complete", "fail", "continue", "terminate", "cancel", "limit"}
	for _, how := range ways {
		queue := "q"
		if how == "limit" {
			queue = "lim"
		}
		// a parent closing: its child (policy terminate) is terminated
		dad := "parent-" + how
		h.start(dad, queue, "Looper", dad+"-waiter")
		h.waitForEvent(dad, engine.EventChildWorkflowStarted)
		closeBy(dad, how)
		waitFor(t, "the child of a parent closed by "+how, func() bool {
			x, err := h.client.Describe(h.ctx, dad+"-waiter", "")
			return err == nil && x.Status == engine.StatusTerminated
		})
		// a child closing: its parent hears of it
		mum := "mother-" + how
		h.start(mum, "q", "Dad", queue)
		h.waitForEvent(mum, engine.EventChildWorkflowStarted)
		first, err := h.client.Describe(h.ctx, mum+"-kid", "")
		if err != nil {
			t.Fatal(err)
		}
		closeBy(mum+"-kid", how)
		if how == "continue" { // the chain goes on: its next run closes it
			waitFor(t, "the continued child", func() bool {
				x, err := h.client.Describe(h.ctx, mum+"-kid", "")
				return err == nil && x.Status == engine.StatusRunning && x.RunID != first.RunID
			})
			closeBy(mum+"-kid", "complete")
		}
		var got string
		h.mustResult(mum, &got)
		want := map[string]string{"complete": "child said done", "continue": "child said done", "fail": "child failed",
			"terminate": "child terminated", "cancel": "child canceled", "limit": "child terminated"}[how]
		if got != want {
			t.Errorf("a child closed by %s: the parent got %q, want %q", how, got, want)
		}
	}
}
