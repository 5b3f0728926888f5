package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// A history recorded by the test environment reads back as written (array
// and one-event-per-line forms), replays against the code that wrote it,
// and reports a broken history and an unregistered workflow with their
// codes.
func TestReplayerCodes(t *testing.T) {
	env := threeStepsEnv(t)
	run := env.Start(ThreeSteps, order{ID: "1", Amount: 42})
	must(env.Result(run, nil))
	path := filepath.Join(t.TempDir(), "three-steps.json")
	env.RecordHistory(run, path)

	r := engine.NewWorkflowReplayer()
	must(r.RegisterWorkflow(ThreeSteps))
	must(r.ReplayWorkflowHistoryFromJSONFile(path))

	events := env.History(run)
	var jsonl bytes.Buffer // as `foreman history -o jsonl` prints it
	for _, e := range events {
		b, err := json.Marshal(e)
		must(err)
		jsonl.Write(append(b, '\n'))
	}
	back, err := engine.ReadHistoryJSON(&jsonl)
	if err != nil || len(back) != len(events) || !reflect.DeepEqual(back[3].Attrs, events[3].Attrs) {
		t.Fatalf("jsonl read back %d of %d events: %v", len(back), len(events), err)
	}

	code := func(err error) string {
		var re *engine.ReplayError
		if !errors.As(err, &re) {
			t.Fatalf("want a ReplayError, got %v", err)
		}
		return re.Code
	}
	gap := append(append([]engine.Event(nil), events[:4]...), events[5:]...)
	if c := code(r.ReplayWorkflowHistory(gap)); c != engine.CodeBadHistory {
		t.Fatalf("a history with a gap: code %s", c)
	}
	if c := code(engine.NewWorkflowReplayer().ReplayWorkflowHistory(events)); c != engine.CodeUnknownWorkflow {
		t.Fatalf("an unregistered workflow: code %s", c)
	}
	// the timer's 50 ms sleep (one more task) is a change replay notices
	changed := engine.NewWorkflowReplayer()
	must(changed.RegisterWorkflowWithName("ThreeSteps", func(ctx engine.Context, o order) (string, error) {
		if err := engine.Sleep(ctx, time.Second); err != nil {
			return "", err
		}
		return ThreeSteps(ctx, o)
	}))
	err = changed.ReplayWorkflowHistory(events)
	if c := code(err); c != engine.CodeNonDeterminism || !strings.Contains(err.Error(), "starts a timer") {
		t.Fatalf("a sleep added in front: %v", err)
	}
}
