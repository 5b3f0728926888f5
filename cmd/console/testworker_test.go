package main_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/foremanhq/foreman/engine"
)

// testQueue is served by a worker in the test process: the examples have
// no approval restricted to some identities, no query handler and no
// signal, which the CLI must be tested on.
const testQueue = "cli-test"

// GateInput is the input of Gate.
type GateInput struct {
	Ticket string `json:"ticket"`
}

// Gate waits for alice (and only alice) to approve "release", then for a
// "finish" signal; its "state" query says where it is.
func Gate(ctx engine.Context, in GateInput) (string, error) {
	state := "waiting for release approval"
	if err := engine.SetQueryHandler(ctx, "state", func(prefix string) (string, error) {
		return prefix + in.Ticket + ": " + state, nil
	}); err != nil {
		return "", err
	}
	engine.SetStatus(ctx, state)
	d, err := engine.AwaitApproval(ctx, "release", engine.ApprovalOptions{Approvers: []string{"alice"}, Description: "release " + in.Ticket})
	if err != nil {
		return "", err
	}
	if !d.Approved {
		return "not released by " + d.By, nil
	}
	state = "released by " + d.By + ", waiting for finish"
	engine.SetStatus(ctx, state)
	var note struct {
		Note string `json:"note"`
	}
	engine.GetSignalChannel(ctx, "finish").Receive(ctx, &note)
	return fmt.Sprintf("%s finished: %s", in.Ticket, note.Note), nil
}

var testWorkers struct {
	mu      sync.Mutex
	workers []*engine.Worker
	cancel  context.CancelFunc
}

func startTestWorker(store engine.Store) error {
	ctx, cancel := context.WithCancel(context.Background())
	w := engine.NewWorker(store, testQueue, engine.WorkerOptions{Identity: "cli-test-worker"})
	if err := w.RegisterWorkflow(Gate); err != nil {
		cancel()
		return err
	}
	if err := w.Start(ctx); err != nil {
		cancel()
		return err
	}
	testWorkers.mu.Lock()
	testWorkers.workers = append(testWorkers.workers, w)
	testWorkers.cancel = cancel
	testWorkers.mu.Unlock()
	return nil
}

func stopTestWorkers() {
	testWorkers.mu.Lock()
	defer testWorkers.mu.Unlock()
	for _, w := range testWorkers.workers {
		w.Stop()
	}
	if testWorkers.cancel != nil {
		testWorkers.cancel()
	}
}
