package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility"
)

// engineBackend is the fake's search over real runs, with the real
// operator actions and batch journal of an embedded engine.
type engineBackend struct {
	*fakeBackend
	operator.Actions
}

func (b *engineBackend) Check(req operator.Request) error { return b.Actions.Check(req) }
func (b *engineBackend) Perform(ctx context.Context, req operator.Request) (operator.Outcome, error) {
	return b.Actions.Perform(ctx, req)
}
func (b *engineBackend) Took(ctx context.Context, req operator.Request, since time.Time) (bool, error) {
	return b.Actions.Took(ctx, req, since)
}

// losing performs each action, but loses the answer of the lose-th one:
// it took effect, and the console hears a timeout (a dropped connection).
type losing struct {
	operator.Actions
	lose int32
	n    atomic.Int32
	lost sync.Map
}

func (l *losing) Perform(ctx context.Context, req operator.Request) (operator.Outcome, error) {
	out, err := l.Actions.Perform(ctx, req)
	if l.n.Add(1) == l.lose {
		l.lost.Store(req.Target.RunID, true)
		return operator.Outcome{}, context.DeadlineExceeded
	}
	return out, err
}

// TestConsoleBatchStoppedMidwayAndResumed cancels every match from the
// console on a real engine, stops the batch midway (one run acted on with
// its answer lost), and resumes it: every run is cancelled exactly once
// and the dialog counts every run done.
func TestConsoleBatchStoppedMidwayAndResumed(t *testing.T) {
	const n = 20
	store, _ := jstest.Start(t)
	ctx := context.Background()
	c := engine.NewClient(store, engine.ClientOptions{Identity: "alice"})
	fake := newFakeBackend(testClock)
	for i := range n {
		r, err := c.Start(ctx, engine.StartOptions{ID: fmt.Sprintf("idle-%02d", i), TaskQueue: "nobody"}, "Idle", nil)
		if err != nil {
			t.Fatal(err)
		}
		fake.docs = append(fake.docs, visibility.Doc{WorkflowID: r.WorkflowID, RunID: r.RunID, Type: "Idle", TaskQueue: "nobody",
			Status: engine.StatusRunning, StartTime: testClock.Add(-time.Duration(i) * time.Minute), LastEventTime: testClock})
	}
	j, err := jetstream.OpenBatches(ctx, store.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	fake.journal = j
	acts := &losing{Actions: operator.New(operator.Default, func(context.Context) (operator.Env, error) {
		return operator.Env{Client: c, Identity: c.Identity()}, nil
	}), lose: 3}
	h := newHarnessOn(t, &engineBackend{fakeBackend: fake, Actions: acts}, fake, Options{})

	stopped := false
	h.after = func() {
		if bd, ok := h.m.modal.(*batchDialog); ok && !stopped {
			if done, _, _, _ := bd.counts(); done >= 6 {
				stopped = true
				h.press("esc")
			}
		}
	}
	h.press("/")
	h.typeText("type:Idle")
	h.press("enter", "*", "C")
	h.typeText("maintenance")
	h.press("enter")
	h.typeText(fmt.Sprint(n))
	h.press("enter")

	bd, ok := h.m.modal.(*batchDialog)
	if !ok || !bd.finished || !bd.stopped {
		t.Fatalf("after esc: %T %+v", h.m.modal, bd)
	}
	first, _, failedFirst, _ := bd.counts()
	if first >= n || failedFirst != 1 {
		t.Fatalf("stopped after %d of %d runs, %d failed: want stopped midway with the lost answer failed", first, n, failedFirst)
	}
	h.wantScreenContains("stopped by the operator", "r resume")

	h.after = nil
	h.press("r")
	if !bd.finished || bd.stopped || bd.err != nil {
		t.Fatalf("resume: %+v", bd)
	}
	done, ok2, failed, skipped := bd.counts()
	if done != n || failed != 0 || ok2+skipped != n {
		t.Fatalf("resumed: %d done (%d ok, %d skipped), %d failed; want all %d", done, ok2, skipped, failed, n)
	}
	h.wantScreenContains(fmt.Sprintf("%d/%d", n, n), "finished")
	for _, d := range fake.docs {
		events, err := c.History(ctx, d.WorkflowID, d.RunID)
		if err != nil {
			t.Fatal(err)
		}
		cancels := 0
		for _, e := range events {
			if _, ok := e.Attrs.(*engine.WorkflowCancelRequested); ok {
				cancels++
			}
		}
		if cancels != 1 {
			t.Errorf("%s cancelled %d times, want once", d.WorkflowID, cancels)
		}
		if _, lost := acts.lost.Load(d.RunID); lost {
			if r := bd.results[d.RunID+"\x00"]; !strings.Contains(r.Reason, "confirmed from history") {
				t.Errorf("the run whose answer was lost: %+v", r)
			}
		}
	}
	items, err := j.Items(ctx, bd.batchID)
	if err != nil || len(items) != n {
		t.Fatalf("journal of %s: %d runs, %v", bd.batchID, len(items), err)
	}
}
