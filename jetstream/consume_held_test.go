package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// heldRecorder consumes history with ConsumeHistoryHolding, holding the
// batches of the runs in hold, and records what it was handed.
type heldRecorder struct {
	mu      sync.Mutex
	hold    map[string]bool
	failOne bool                          // the first call fails, after taking its holds
	handles map[string][]engine.HeldBatch // run -> a handle per call
	seen    map[string]int                // run -> times handed over
}

func (r *heldRecorder) handle(bs []engine.StoredBatch, hold func(int) (engine.HeldBatch, bool)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range bs {
		r.seen[b.Header.RunID]++
		if r.hold[b.Header.RunID] {
			h, ok := hold(i)
			if !ok {
				return errors.New("hold refused")
			}
			r.handles[b.Header.RunID] = append(r.handles[b.Header.RunID], h)
		}
	}
	if r.failOne {
		r.failOne = false
		return errors.New("failing once")
	}
	return nil
}

func (r *heldRecorder) times(run string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[run]
}

func (r *heldRecorder) handleOf(run string, call int) engine.HeldBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handles[run][call]
}

// A held batch is not redelivered while held, however long past AckWait;
// Ack ends it; a hold taken by a call that failed is void (the batch
// comes again with the retry); when the consumer stops, what it still
// holds is handed back and the next consumer gets it at once.
func TestConsumeHistoryHolding(t *testing.T) {
	st, srv := jstest.StartIn(t, t.TempDir(), jetstream.Options{AckWait: 1500 * time.Millisecond})
	ctx := testCtx(t)
	appendRun := func(run string) {
		if _, err := st.AppendHistory(ctx, header(run, 1, 1), nil, 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	// a alone first: the call that fails, then its retry, hand over a
	// only; b and c come in later calls (however they are gathered)
	appendRun("a")
	r := &heldRecorder{hold: map[string]bool{"a": true, "b": true}, failOne: true, handles: map[string][]engine.HeldBatch{}, seen: map[string]int{}}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = st.ConsumeHistoryHolding(cctx, "holder", r.handle) }()
	jstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if r.times("a") < 2 {
			return errors.New("the failed call not retried yet")
		}
		return nil
	})
	appendRun("b")
	appendRun("c")
	jstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if r.times("c") < 1 {
			return errors.New("c not handed over yet")
		}
		return nil
	})
	time.Sleep(3 * time.Second) // twice AckWait
	for run, want := range map[string]int{"a": 2, "b": 1, "c": 1} {
		if n := r.times(run); n != want {
			t.Fatalf("batch of run %s handed over %d times, want %d (a: failing, then held; b: held; c: acked)", run, n, want)
		}
	}
	cons := consumerInfo(t, srv, "holder")
	if cons.NumAckPending != 2 || cons.NumRedelivered != 0 {
		t.Fatalf("%d batches pending acknowledgement, %d redelivered; want 2 (held), none (kept in progress)", cons.NumAckPending, cons.NumRedelivered)
	}
	r.handleOf("a", 0).Ack() // the failed call's: void
	time.Sleep(100 * time.Millisecond)
	if n := consumerInfo(t, srv, "holder").NumAckPending; n != 2 {
		t.Fatalf("%d batches pending acknowledgement after a void handle's Ack, want 2", n)
	}
	r.handleOf("a", 1).Ack()
	jstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := consumerInfo(t, srv, "holder").NumAckPending; n != 1 {
			return errors.New("a not acknowledged yet")
		}
		return nil
	})
	cancel()
	<-done

	// the next consumer gets b (handed back), not a (acked), at once
	r2 := &heldRecorder{hold: map[string]bool{}, handles: map[string][]engine.HeldBatch{}, seen: map[string]int{}}
	cctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	go func() { _ = st.ConsumeHistoryHolding(cctx2, "holder", r2.handle) }()
	stopped := time.Now()
	jstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if r2.times("b") != 1 {
			return errors.New("b not redelivered yet")
		}
		return nil
	})
	// not handed back, it would come two thirds of AckWait or more later
	if took := time.Since(stopped); took > 800*time.Millisecond {
		t.Errorf("the held batch came back after %s: not handed back, waited out AckWait", took)
	}
	if r2.times("a") != 0 || r2.times("c") != 0 {
		t.Fatalf("acknowledged batches redelivered: a %d, c %d", r2.times("a"), r2.times("c"))
	}
}

func consumerInfo(t *testing.T, srv *jetstream.Server, durable string) *natsjs.ConsumerInfo {
	t.Helper()
	ctx := testCtx(t)
	nc, err := jetstream.Connect(ctx, srv.ClientURL(), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, jetstream.HistoryStream, durable)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

// A consumer holds at most HistoryMaxHeld batches: hold refuses beyond,
// and the refused batches are acknowledged with the others.
func TestConsumeHistoryHoldingIsBounded(t *testing.T) {
	st, srv := jstest.StartIn(t, t.TempDir(), jetstream.Options{})
	ctx := testCtx(t)
	total := jetstream.HistoryMaxHeld + 100
	for i := range total {
		if _, err := st.AppendHistory(ctx, header(fmt.Sprintf("r%d", i), 1, 1), nil, 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	handed, refused := 0, 0
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = st.ConsumeHistoryHolding(cctx, "bounded", func(bs []engine.StoredBatch, hold func(int) (engine.HeldBatch, bool)) error {
			mu.Lock()
			defer mu.Unlock()
			for i := range bs {
				handed++
				if _, ok := hold(i); !ok {
					refused++
				}
			}
			return nil
		})
	}()
	jstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if handed < total {
			return fmt.Errorf("%d of %d batches handed over", handed, total)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if refused != 100 {
		t.Fatalf("%d holds refused of %d, want 100 (past %d)", refused, total, jetstream.HistoryMaxHeld)
	}
	jstest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if n := consumerInfo(t, srv, "bounded").NumAckPending; n != jetstream.HistoryMaxHeld {
			return fmt.Errorf("%d pending acknowledgement, want %d (the held ones)", n, jetstream.HistoryMaxHeld)
		}
		return nil
	})
}
