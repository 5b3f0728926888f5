package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Schedules from the CLI and the console, in tmux, against the real
// engine: a schedule created with `foreman schedule create` shows in
// :schedules; t fires it now and enter lists its runs (the search
// scheduled_by:<id>); p pauses it with a note, which `foreman schedule
// describe` then shows.
func TestConsoleSchedules(t *testing.T) {
	e := startEngine(t, "--examples")
	if _, stderr, code := e.foreman(t, "planner", "schedule", "create", "nightly-e2e", "--type", "DocumentIngestion", "--queue", "ingest",
		"--cron", "0 3 * * *", "--tz", "Europe/Paris", "--input", `{"doc_id":"nightly","pages":2}`); code != 0 {
		t.Fatalf("schedule create: exit %d: %s", code, stderr)
	}
	s := newScreen(t, 160, 48, []string{"FOREMAN_NATS=" + e.url, "FOREMAN_IDENTITY=alice", "TERM=xterm-256color", "HOME=" + t.TempDir()},
		filepath.Join(bin, "foreman"))
	s.waitText(20*time.Second, "foreman as alice")
	s.keys(":", "schedules", "Enter")
	s.waitText(10*time.Second, "nightly-e2e", "active", "DocumentIngestion")

	// Fire it now, then list the runs it started.
	s.keys("t")
	s.waitText(10*time.Second, "started nightly-e2e-")
	s.keys("Enter")
	s.waitFor("the schedule's run in the list", 20*time.Second, func(txt string) bool {
		if strings.Contains(txt, "schedule nightly-e2e") && strings.Contains(txt, "nightly-e2e-20") {
			return true
		}
		s.keys("C-r") // the index may not have it yet
		return false
	})
	s.keys("Escape")
	s.waitText(10*time.Second, "STARTED", "nightly-e2e")

	// Pause with a note.
	s.keys("p")
	s.waitText(5*time.Second, "Pause schedule nightly-e2e?", "Note")
	s.keys("quarterly audit", "Enter")
	s.waitText(10*time.Second, "paused", "quarterly audit")
	var d engine.ScheduleDescription
	e.mustJSON(t, &d, "schedule", "describe", "nightly-e2e", "-o", "json")
	if !d.Schedule.Paused || d.Schedule.Note != "quarterly audit" || d.Actions != 1 {
		t.Fatalf("after the console's pause, describe says paused %v, note %q, %d actions", d.Schedule.Paused, d.Schedule.Note, d.Actions)
	}
	if d.UpdatedBy == "" || d.UpdatedBy == "planner" {
		t.Fatalf("the pause is recorded as made by %q", d.UpdatedBy)
	}
}
