package jetstream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// An announcement expires after its TTL unless rewritten, and a watcher
// is told (what the engine's pulse service relies on to drop a killed
// worker); a withdrawal is seen at once.
func TestWorkerAnnouncementsExpireAndWatchersSee(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type change struct {
		key  string
		gone bool
	}
	changes := make(chan change, 64)
	watching := make(chan error, 1)
	go func() {
		watching <- st.WatchWorkers(ctx, func(key string, data []byte) { changes <- change{key, data == nil} })
	}()
	live := map[string]bool{}
	if err := st.AnnounceWorker(ctx, "q.kept", []byte(`{"queue":"q"}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.AnnounceWorker(ctx, "q.killed", []byte(`{"queue":"q"}`), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := st.AnnounceWorker(ctx, "q.stopped", []byte(`{"queue":"q"}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if raw, err := st.ListWorkers(ctx); err != nil || len(raw) != 3 {
		t.Fatalf("listed %d (err %v), want 3", len(raw), err)
	}
	if err := st.WithdrawWorker(ctx, "q.stopped"); err != nil {
		t.Fatal(err)
	}
	jstest.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		for len(changes) > 0 {
			c := <-changes
			if c.gone {
				delete(live, c.key)
			} else {
				live[c.key] = true
			}
		}
		if !live["q.kept"] || len(live) != 1 {
			return fmt.Errorf("watcher holds %v, want q.kept alone", live)
		}
		return nil
	})
	if raw, err := st.ListWorkers(ctx); err != nil || len(raw) != 1 {
		t.Fatalf("listed %d (err %v) after expiry and withdrawal, want 1", len(raw), err)
	}
	if err := st.AnnounceWorker(ctx, "bad key", nil, time.Second); err == nil {
		t.Fatal("a key with a space was accepted")
	}
	cancel()
	if err := <-watching; err != context.Canceled {
		t.Fatalf("watch ended with %v", err)
	}
}

// The backlog names each queue holding tasks, with its oldest.
func TestTaskBacklog(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := context.Background()
	for i := range 3 {
		if err := st.PublishTask(ctx, engine.ActivityTaskKind, "slow", []byte("{}"), fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PublishTask(ctx, engine.WorkflowTaskKind, "slow", []byte("{}"), "w"); err != nil {
		t.Fatal(err)
	}
	b, err := st.TaskBacklog(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 2 || b[0].Queue != "slow" || b[0].Kind != engine.ActivityTaskKind || b[0].Tasks != 3 || b[0].Oldest.IsZero() ||
		b[1].Kind != engine.WorkflowTaskKind || b[1].Tasks != 1 {
		t.Fatalf("backlog %+v", b)
	}
}
