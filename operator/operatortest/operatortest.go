// Package operatortest gives operator, console and CLI tests a real engine
// on an embedded JetStream, idle runs to act on, and an Actions that loses
// an answer (the action took effect, the caller never heard back), to test
// that interrupted batches resume without acting twice.
package operatortest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/operator"
)

// Engine is a real engine acting as "alice", with its batch journal and the
// catalog's actions over it.
type Engine struct {
	Client  *engine.Client
	Journal *jetstream.Batches
	Actions operator.Actions
}

// Start boots an embedded JetStream for t (stopped by t.Cleanup).
func Start(t testing.TB) *Engine {
	t.Helper()
	store, _ := jstest.Start(t)
	j, err := jetstream.OpenBatches(context.Background(), store.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	c := engine.NewClient(store, engine.ClientOptions{Identity: "alice"})
	acts := operator.New(operator.Default, func(context.Context) (operator.Env, error) {
		return operator.Env{Client: c, Identity: c.Principal()}, nil
	})
	return &Engine{Client: c, Journal: j, Actions: acts}
}

// StartIdle starts n runs, prefix-00, prefix-01, …, on a queue no worker
// serves: they stay running, which is all a cancel or a signal needs.
func (e *Engine) StartIdle(t testing.TB, prefix string, n int) []operator.Target {
	t.Helper()
	var out []operator.Target
	for i := range n {
		r, err := e.Client.Start(context.Background(), engine.StartOptions{ID: fmt.Sprintf("%s-%02d", prefix, i), TaskQueue: "nobody"}, "Idle", nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, operator.Target{WorkflowID: r.WorkflowID, RunID: r.RunID})
	}
	return out
}

// CancelsOf counts the cancel requests in a run's history.
func (e *Engine) CancelsOf(t testing.TB, r operator.Target) int {
	t.Helper()
	events, err := e.Client.History(context.Background(), r.WorkflowID, r.RunID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if _, ok := ev.Attrs.(*engine.WorkflowCancelRequested); ok {
			n++
		}
	}
	return n
}

// LoseAnswer performs every action but reports the Lose-th as timed out
// after it took effect (then calls OnLose, if set): what a dropped
// connection or a killed process leaves behind.
type LoseAnswer struct {
	operator.Actions
	Lose   int32
	OnLose func()
	n      atomic.Int32
	lost   sync.Map
}

// Perform performs req, losing the Lose-th answer.
func (l *LoseAnswer) Perform(ctx context.Context, req operator.Request) (operator.Outcome, error) {
	out, err := l.Actions.Perform(ctx, req)
	if l.n.Add(1) == l.Lose {
		l.lost.Store(req.Target.RunID, true)
		if l.OnLose != nil {
			l.OnLose()
		}
		return operator.Outcome{}, context.DeadlineExceeded
	}
	return out, err
}

// Lost tells whether the answer about run was lost.
func (l *LoseAnswer) Lost(runID string) bool {
	_, ok := l.lost.Load(runID)
	return ok
}
