package jetstream_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// The scale-out path: a 3-node NATS cluster with R3 streams. The engine
// boots against one node with --replicas 3, workflows with activities and
// signals complete, and histories read back whole from every node (direct
// gets may be answered by followers; a stale answer may only cost an OCC
// retry, never an event).
func TestThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster formation takes seconds")
	}
	urls := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
	node, err := jetstream.Boot(ctx, jetstream.Options{NATSURL: urls[0], Replicas: 3, Name: "cluster-engine"}, log)
	if err != nil {
		t.Fatalf("boot on the cluster: %v", err)
	}
	defer node.Close()
	svcCtx, stopSvc := context.WithCancel(ctx)
	svcDone := make(chan struct{})
	go func() { defer close(svcDone); _ = engine.RunServices(svcCtx, node.Store, log) }()
	defer func() { stopSvc(); <-svcDone }()

	// The worker and the client connect to other nodes than the engine.
	workerNode, err := jetstream.Boot(ctx, jetstream.Options{NATSURL: urls[1], Replicas: 3, Name: "cluster-worker"}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer workerNode.Close()
	clientNode, err := jetstream.Boot(ctx, jetstream.Options{NATSURL: urls[2], Replicas: 3, Name: "cluster-client"}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer clientNode.Close()

	w := engine.NewWorker(workerNode.Store, "q", engine.WorkerOptions{Logger: log, ShutdownTimeout: time.Second})
	must(w.RegisterActivityWithName("Double", func(_ context.Context, n int) (int, error) { return 2 * n, nil }))
	must(w.RegisterWorkflowWithName("Flow", func(ctx engine.Context, n int) (int, error) {
		var a, b int
		if err := engine.ExecuteActivity(ctx, "Double", n).Get(ctx, &a); err != nil {
			return 0, err
		}
		var add int
		engine.GetSignalChannel(ctx, "add").Receive(ctx, &add)
		if err := engine.ExecuteActivity(ctx, "Double", a+add).Get(ctx, &b); err != nil {
			return 0, err
		}
		return b, nil
	}))
	must(w.Start(ctx))
	defer w.Stop()

	client := engine.NewClient(clientNode.Store, engine.ClientOptions{Identity: "tester"})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("flow-%d", i)
			if _, err := client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: "q"}, "Flow", i); err != nil {
				errs <- err
				return
			}
			if err := client.Signal(ctx, id, "", "add", 1); err != nil {
				errs <- err
				return
			}
			var got int
			if err := client.GetResult(ctx, id, "", &got); err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				return
			}
			if want := 2 * (2*i + 1); got != want {
				errs <- fmt.Errorf("%s: result %d, want %d", id, got, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every node serves the same complete histories.
	for _, st := range []*jetstream.Store{node.Store, workerNode.Store, clientNode.Store} {
		c := engine.NewClient(st, engine.ClientOptions{})
		for i := range n {
			events, err := c.History(ctx, fmt.Sprintf("flow-%d", i), "")
			if err != nil {
				t.Fatal(err)
			}
			for j, e := range events {
				if e.ID != int64(j+1) {
					t.Fatalf("flow-%d: event %d has id %d", i, j+1, e.ID)
				}
			}
			if last := events[len(events)-1]; last.Type != engine.EventWorkflowTaskCompleted || events[len(events)-2].Type != engine.EventWorkflowCompleted {
				t.Fatalf("flow-%d ends with %s", i, last.Type)
			}
		}
	}
}

// startCluster starts n clustered JetStream servers and returns their client URLs.
func startCluster(t *testing.T, n int) []string {
	t.Helper()
	return newTestCluster(t, n).urls
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
