package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/syncbuf"
)

func declineCharge(_ context.Context, _ string) (string, error) {
	return "", engine.NewApplicationError("CardDeclined", "card declined", false)
}

func brokenShipment(_ context.Context, _ string) (string, error) {
	return "", errors.New("carrier unreachable")
}

func chargeWF(ctx engine.Context, activity string) error {
	ctx = engine.WithActivityOptions(ctx, engine.ActivityOptions{StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &engine.RetryPolicy{InitialInterval: 10 * time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: 3}})
	return engine.ExecuteActivity(ctx, activity, "x").Get(ctx, nil)
}

// logLines parses the worker's JSON log lines with message msg.
func logLines(t *testing.T, out *syncbuf.Buffer, msg string) []map[string]any {
	t.Helper()
	var got []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if l["msg"] == msg {
			got = append(got, l)
		}
	}
	return got
}

// Each failed activity attempt is one line naming its run (workflow_id,
// run_id), the worker's queue and the attempt; the same failure repeated
// (another attempt, another run) is held back and counted in one summary
// at the window's end, while another activity type's failure is written
// at once.
func TestWorkerLogsFailuresOnceWithTheirRun(t *testing.T) {
	h := newHarness(t)
	var out syncbuf.Buffer
	const window = 3 * time.Second
	w := engine.NewWorker(h.store, "logged", engine.WorkerOptions{LogRepeatWindow: window, ShutdownTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	_ = w.RegisterWorkflow(chargeWF)
	_ = w.RegisterActivityWithName("Charge", declineCharge)
	_ = w.RegisterActivityWithName("Ship", brokenShipment)
	if err := w.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	began := time.Now()
	runs := map[string]string{}
	for _, id := range []string{"charge-1", "charge-2"} {
		runs[id] = h.start(id, "logged", chargeWF, "Charge").RunID
	}
	runs["ship-1"] = h.start("ship-1", "logged", chargeWF, "Ship").RunID
	for id := range runs {
		if err := h.result(id, nil); err == nil {
			t.Fatalf("%s completed, want its activity's failure", id)
		}
	}
	if time.Since(began) > window {
		t.Skipf("the runs took %s, longer than the window: too loaded to tell repeats apart", time.Since(began))
	}
	lines := logLines(t, &out, "activity attempt failed")
	if len(lines) != 2 {
		t.Fatalf("%d lines within the window, want 2 (one per activity type):\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		wf, _ := l["workflow_id"].(string)
		if runs[wf] == "" || l["run_id"] != runs[wf] || l["queue"] != "logged" || l["attempt"] != float64(1) {
			t.Errorf("line %v: want the run's workflow_id, run_id, queue logged and attempt 1", l)
		}
		if et, _ := l["error_type"].(string); et == "" || l["activity_type"] == "Charge" && et != "CardDeclined" {
			t.Errorf("line %v: want the activity's error type", l)
		}
	}
	// At the window's end, one summary per repeated failure: Charge
	// failed 6 times (2 runs, 3 attempts), Ship 3.
	deadline := time.Now().Add(window + 5*time.Second)
	for len(logLines(t, &out, "activity attempt failed")) < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	repeated := map[string]float64{}
	for _, l := range logLines(t, &out, "activity attempt failed")[2:] {
		repeated[l["activity_type"].(string)] += l["repeated"].(float64)
		if l["run_id"] == "" || l["workflow_id"] == "" || l["attempt"] == nil {
			t.Errorf("summary %v lacks its (last) run", l)
		}
	}
	if repeated["Charge"] != 5 || repeated["Ship"] != 2 {
		t.Errorf("repeats summed up %v, want Charge 5, Ship 2:\n%s", repeated, out.String())
	}
}
