// Package flow is the workload of the crash test: one workflow, CrashFlow,
// that runs three sequential activities and then sleeps on a durable 2 s
// timer. The crash host (internal/crashhost) registers it on a worker; the
// crash test (internal/crashtest) starts runs of it and checks their results
// with Expected, which computes what a run must return without running it.
package flow

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Queue is the task queue the crash host's worker polls.
const Queue = "crash"

// TimerDuration is how long CrashFlow sleeps after its activities.
const TimerDuration = 2 * time.Second

// MaxActivitySleep bounds the random pause of each activity, so that a kill
// often lands while activities are running.
const MaxActivitySleep = 20 * time.Millisecond

// CrashInput is CrashFlow's input.
type CrashInput struct {
	ID string `json:"id"`
}

// StepInput is an activity's input: each step depends on the result of the
// previous one, so a result delivered to the wrong step or out of order
// changes the workflow's result.
type StepInput struct {
	ID   string `json:"id"`
	Step int    `json:"step"`
	Prev string `json:"prev"`
}

// StepValue is the deterministic result of one step.
func StepValue(in StepInput) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%d|%s", in.ID, in.Step, in.Prev)
	return fmt.Sprintf("a%d-%08x", in.Step, h.Sum32())
}

func step(ctx context.Context, in StepInput) (string, error) {
	t := time.NewTimer(rand.N(MaxActivitySleep + time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
	return StepValue(in), nil
}

// Prepare, Process and Finish are CrashFlow's three activities. They are
// deterministic (at-least-once execution is harmless) apart from a random
// pause of up to MaxActivitySleep.
func Prepare(ctx context.Context, in StepInput) (string, error) { return step(ctx, in) }

// Process is the second activity.
func Process(ctx context.Context, in StepInput) (string, error) { return step(ctx, in) }

// Finish is the third activity.
func Finish(ctx context.Context, in StepInput) (string, error) { return step(ctx, in) }

// Activities lists CrashFlow's activities in the order it runs them.
var Activities = []any{Prepare, Process, Finish}

// CrashFlow runs Prepare, Process and Finish one after the other, each fed
// the previous result, then sleeps TimerDuration, and returns
// "id:a1:a2:a3".
func CrashFlow(ctx engine.Context, in CrashInput) (string, error) {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	parts := []string{in.ID}
	prev := in.ID
	for i, act := range Activities {
		var out string
		if err := engine.ExecuteActivity(ctx, act, StepInput{ID: in.ID, Step: i + 1, Prev: prev}).Get(ctx, &out); err != nil {
			return "", err
		}
		parts = append(parts, out)
		prev = out
	}
	if err := engine.Sleep(ctx, TimerDuration); err != nil {
		return "", err
	}
	return strings.Join(parts, ":"), nil
}

// Steps returns the results the three activities of a run of in must
// produce, in order.
func Steps(in CrashInput) []string {
	out := make([]string, 0, len(Activities))
	prev := in.ID
	for i := range Activities {
		prev = StepValue(StepInput{ID: in.ID, Step: i + 1, Prev: prev})
		out = append(out, prev)
	}
	return out
}

// Expected is the result a run of CrashFlow with in must return.
func Expected(in CrashInput) string {
	return strings.Join(append([]string{in.ID}, Steps(in)...), ":")
}

// Register registers CrashFlow and its activities on w.
func Register(w *engine.Worker) error {
	if err := w.RegisterWorkflow(CrashFlow); err != nil {
		return err
	}
	for _, a := range Activities {
		if err := w.RegisterActivity(a); err != nil {
			return err
		}
	}
	return registerUpdates(w)
}
