package lograte_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/internal/lograte"

	"github.com/foremanhq/foreman/internal/syncbuf"
)

// lines splits what the handler and its window timers wrote.
func lines(b *syncbuf.Buffer) []string { return strings.Split(strings.TrimSpace(b.String()), "\n") }

func TestRepeatedFailureIsWrittenOncePerWindow(t *testing.T) {
	var out syncbuf.Buffer
	log := slog.New(lograte.New(slog.NewTextHandler(&out, nil), 200*time.Millisecond))
	store := log.With("service", "timers")
	for i := range 1000 {
		store.Warn("firing timer failed; retrying", "err", errors.New("no space left on device"), "try", i)
	}
	log.Warn("firing timer failed; retrying", "err", "other logger attrs") // another key: written
	store.Error("firing timer failed; retrying", "err", "an error, not a warning")
	log.Info("progress", "n", 1)
	log.Info("progress", "n", 2) // info is never held back
	got := lines(&out)
	if len(got) != 5 {
		t.Fatalf("within the window: %d lines, want 5:\n%s", len(got), strings.Join(got, "\n"))
	}
	if !strings.Contains(got[0], "try=0") {
		t.Fatalf("the first failure is not the one written: %s", got[0])
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(lines(&out)) < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got = lines(&out)
	if len(got) != 6 {
		t.Fatalf("after the window: %d lines, want the summary as the 6th:\n%s", len(got), strings.Join(got, "\n"))
	}
	sum := got[5]
	for _, want := range []string{"service=timers", "try=999", "repeated=999", "within=200ms"} {
		if !strings.Contains(sum, want) {
			t.Fatalf("summary %q lacks %q", sum, want)
		}
	}
	// A new window starts: the next failure is written at once.
	store.Warn("firing timer failed; retrying", "err", "again")
	if got := lines(&out); len(got) != 7 || !strings.Contains(got[6], "err=again") {
		t.Fatalf("after the window closed the next failure was held back:\n%s", strings.Join(got, "\n"))
	}
}

// Keyed by a record attribute: repeats of one activity type's failure are
// held back, another type's first failure is written at once.
func TestKeyedRepeats(t *testing.T) {
	var out syncbuf.Buffer
	log := slog.New(lograte.NewKeyed(slog.NewTextHandler(&out, nil), time.Hour, "activity_type"))
	for i := range 10 {
		log.Warn("activity attempt failed", "activity_type", "Charge", "run_id", i)
	}
	log.Warn("activity attempt failed", "activity_type", "Ship", "run_id", 10)
	got := lines(&out)
	if len(got) != 2 || !strings.Contains(got[0], "activity_type=Charge") || !strings.Contains(got[1], "activity_type=Ship") {
		t.Fatalf("want one line per activity type:\n%s", strings.Join(got, "\n"))
	}
}
