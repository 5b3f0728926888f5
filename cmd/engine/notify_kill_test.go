package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/operator"
)

const notifyQueue = "notifytest"

func notifyFails(ctx engine.Context, in string) (string, error) {
	return "", errors.New("declined: " + in)
}

// A rule fires once per run into a NATS subscriber and a local webhook,
// and still once after foreman-engine is killed (-9) and started again on
// its data: the deliveries it claimed are in KV, not in its memory.
func TestNotificationsOnceAcrossKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the engine binary")
	}
	dir, bin := buildEngine(t)
	data, addr := filepath.Join(dir, "data"), "127.0.0.1:"+strconv.Itoa(jstest.FreePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	eng := startEngine(t, bin, data, addr, "--notify-every", "100ms")
	store := connectStore(t, ctx, addr)
	w := engine.NewWorker(store, notifyQueue, engine.WorkerOptions{Logger: quiet(), ShutdownTimeout: time.Second})
	if err := w.RegisterWorkflow(notifyFails); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	var mu sync.Mutex
	onNATS, hook := map[string]int{}, map[string]int{}
	count := func(to map[string]int, data []byte) {
		var m struct {
			WorkflowID string `json:"workflow_id"`
		}
		_ = json.Unmarshal(data, &m)
		mu.Lock()
		to[m.WorkflowID]++
		mu.Unlock()
	}
	rc := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		count(hook, body)
	}))
	defer rc.Close()
	sub, err := store.Conn().Subscribe("fm.notify.failing", func(m *nats.Msg) { count(onNATS, m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	rules := operator.RemoteRules(store.Request, store.User())
	rule, _ := json.Marshal(map[string]any{"name": "failing", "condition": "failed", "query": "task_queue:" + notifyQueue, "webhook": rc.URL})
	for { // the action service comes up after the NATS server
		_, err := rules.Put(ctx, "", rule)
		if err == nil {
			break
		}
		if !errors.Is(err, engine.ErrNoResponders) || ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	client := engine.NewClient(store, engine.ClientOptions{Identity: "tester"})
	start := func(id string) {
		t.Helper()
		for {
			c, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := client.Start(c, engine.StartOptions{ID: id, TaskQueue: notifyQueue}, notifyFails, id)
			cancel()
			if err == nil || errors.Is(err, engine.ErrAlreadyStarted) {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("start %s: %v", id, err)
			}
			time.Sleep(100 * time.Millisecond) // the engine is starting again
		}
	}
	settle := func(want string) {
		t.Helper()
		jstest.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(onNATS) != want || fmt.Sprint(hook) != want {
				return fmt.Errorf("nats %v, webhook %v, want %s", onNATS, hook, want)
			}
			return nil
		})
		time.Sleep(time.Second) // ten more evaluations change nothing
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(onNATS) != want || fmt.Sprint(hook) != want {
			t.Fatalf("later: nats %v, webhook %v, want %s", onNATS, hook, want)
		}
	}
	start("fail-1")
	start("fail-2")
	settle("map[fail-1:1 fail-2:1]")

	if err := eng.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = eng.cmd.Wait()
	startEngine(t, bin, data, addr, "--notify-every", "100ms")
	start("fail-3")
	settle("map[fail-1:1 fail-2:1 fail-3:1]")
}
