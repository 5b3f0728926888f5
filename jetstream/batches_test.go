package jetstream_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func openBatches(t *testing.T) *jetstream.Batches {
	t.Helper()
	st, _ := jstest.Start(t)
	b, err := jetstream.OpenBatches(testCtx(t), st.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	// a second open (another CLI) finds the same bucket
	if _, err := jetstream.OpenBatches(testCtx(t), st.Conn(), 0); err != nil {
		t.Fatalf("second open: %v", err)
	}
	return b
}

func TestBatchBeginAndResume(t *testing.T) {
	j := openBatches(t)
	ctx := testCtx(t)
	b := jetstream.Batch{ID: "b-1", Action: "approve", Query: "status:running", Args: json.RawMessage(`{"name":"manager"}`), Identity: "ops"}
	got, resumed, err := j.Begin(ctx, b)
	if err != nil || resumed || got.CreatedAt.IsZero() {
		t.Fatalf("begin = %+v, resumed %v, %v", got, resumed, err)
	}
	// same batch again (spaces in JSON do not matter): resumed
	b.Args = json.RawMessage(`{ "name": "manager" }`)
	again, resumed, err := j.Begin(ctx, b)
	if err != nil || !resumed || !again.CreatedAt.Equal(got.CreatedAt) {
		t.Fatalf("resume = %+v, resumed %v, %v", again, resumed, err)
	}
	for name, mutate := range map[string]func(*jetstream.Batch){
		"action":   func(b *jetstream.Batch) { b.Action = "reject" },
		"query":    func(b *jetstream.Batch) { b.Query = "status:failed" },
		"identity": func(b *jetstream.Batch) { b.Identity = "mallory" },
		"args":     func(b *jetstream.Batch) { b.Args = json.RawMessage(`{"name":"cfo"}`) },
	} {
		other := b
		mutate(&other)
		if _, _, err := j.Begin(ctx, other); !errors.Is(err, jetstream.ErrBatchMismatch) {
			t.Errorf("resume with another %s: %v, want ErrBatchMismatch", name, err)
		}
	}
	if _, err := j.Get(ctx, "b-2"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get unknown batch: %v", err)
	}
	if _, _, err := j.Begin(ctx, jetstream.Batch{ID: "no spaces please"}); !errors.Is(err, jetstream.ErrInvalidName) {
		t.Fatalf("bad batch id: %v", err)
	}
}

func TestBatchClaimFinishRetake(t *testing.T) {
	j := openBatches(t)
	ctx := testCtx(t)
	it, ok, err := j.Claim(ctx, "b", jetstream.BatchItem{WorkflowID: "wf", RunID: "r1"})
	if err != nil || !ok || it.State != jetstream.ItemStarted || it.Attempts != 1 {
		t.Fatalf("claim = %+v, %v, %v", it, ok, err)
	}
	// a second claim sees the first, started
	prev, ok, err := j.Claim(ctx, "b", jetstream.BatchItem{WorkflowID: "wf", RunID: "r1"})
	if err != nil || ok || prev.State != jetstream.ItemStarted {
		t.Fatalf("second claim = %+v, %v, %v", prev, ok, err)
	}
	// interrupted: a resume retakes it; the stale claim can no longer finish
	re, ok, err := j.Retake(ctx, "b", prev)
	if err != nil || !ok || re.Attempts != 2 {
		t.Fatalf("retake = %+v, %v, %v", re, ok, err)
	}
	it.State = jetstream.ItemOK
	if _, err := j.Finish(ctx, "b", it); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("finish a retaken claim: %v, want ErrConflict", err)
	}
	if _, ok, err := j.Retake(ctx, "b", prev); err != nil || ok {
		t.Fatalf("retake at a stale revision: %v, %v", ok, err)
	}
	re.State, re.Reason = jetstream.ItemError, "run is closed"
	if _, err := j.Finish(ctx, "b", re); err != nil {
		t.Fatal(err)
	}
	items, err := j.Items(ctx, "b")
	if err != nil || len(items) != 1 || items[0].State != jetstream.ItemError || items[0].Reason != "run is closed" || items[0].FinishedAt.IsZero() {
		t.Fatalf("items = %+v, %v", items, err)
	}
	if _, ok, err := j.Claim(ctx, "b", jetstream.BatchItem{RunID: "bad.run"}); err == nil || ok {
		t.Fatalf("claim a run id with a dot: %v", err)
	}
}

// Two resumes racing over the same runs: each run is acquired exactly once.
func TestBatchClaimIsExclusive(t *testing.T) {
	j := openBatches(t)
	ctx := testCtx(t)
	const runs, racers = 50, 4
	var mu sync.Mutex
	won := map[string]int{}
	var wg sync.WaitGroup
	for range racers {
		wg.Go(func() {
			for i := range runs {
				run := fmt.Sprintf("r%d", i)
				_, ok, err := j.Claim(ctx, "race", jetstream.BatchItem{RunID: run})
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					won[run]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(won) != runs {
		t.Fatalf("%d runs claimed, want %d", len(won), runs)
	}
	for run, n := range won {
		if n != 1 {
			t.Errorf("run %s acquired %d times", run, n)
		}
	}
	items, err := j.Items(ctx, "race")
	if err != nil || len(items) != runs {
		t.Fatalf("items: %d, %v", len(items), err)
	}
}

func TestBatchHold(t *testing.T) {
	st, srv := jstest.Start(t)
	ctx := testCtx(t)
	j, err := jetstream.OpenBatches(ctx, st.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	release, err := j.Hold(ctx, "b-1", "pid 1 on host-a")
	if err != nil {
		t.Fatal(err)
	}
	// another process (connection) is refused, and told who holds it
	nc, err := jetstream.Connect(ctx, srv.ClientURL(), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := jetstream.OpenBatches(ctx, nc, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Hold(ctx, "b-1", "pid 2"); !errors.Is(err, jetstream.ErrBatchRunning) || !strings.Contains(err.Error(), "pid 1 on host-a") {
		t.Fatalf("second hold: %v, want ErrBatchRunning naming the holder", err)
	}
	// another batch is free
	if rel, err := other.Hold(ctx, "b-2", "pid 2"); err != nil {
		t.Fatalf("hold another batch: %v", err)
	} else {
		rel()
	}
	release()
	rel, err := other.Hold(ctx, "b-1", "pid 2")
	if err != nil {
		t.Fatalf("hold after release: %v", err)
	}
	// a holder that dies (its connection closes) frees the batch at once
	nc.Close()
	_ = rel
	if rel, err := j.Hold(ctx, "b-1", "pid 3"); err != nil {
		t.Fatalf("hold after the holder died: %v", err)
	} else {
		rel()
	}
}
