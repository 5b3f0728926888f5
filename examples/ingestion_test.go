package examples_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

func TestDocumentIngestion(t *testing.T) {
	e := newEnv(t)

	// A flaky fetch is retried; an extractor attempt that dies mid-chunk is
	// retried and resumes from its last heartbeat, redoing no page.
	t.Run("retries and resumes from the last heartbeat", func(t *testing.T) {
		t.Parallel()
		e := newClockEnv(t) // the default throttle (1 s) and retry backoff pass on the test clock
		in := examples.IngestInput{DocID: "D1", Pages: 12, ChunkPages: 6, PageTime: examples.Duration(2 * time.Millisecond),
			FlakyAttempts: 1, CrashAtPage: 9}
		e.start(t, "ingest-D1", examples.IngestQueue, examples.DocumentIngestion, in)
		var res examples.IngestResult
		e.mustResult(t, "ingest-D1", &res)

		want := []examples.ChunkResult{
			{First: 1, Last: 6, Attempt: 1, ResumedFrom: 1, Extracted: 6},
			// Attempt 1 extracted pages 7 and 8, then died on page 9;
			// attempt 2 starts at 9: every page is extracted exactly once.
			{First: 7, Last: 12, Attempt: 2, ResumedFrom: 9, Extracted: 4},
		}
		if !reflect.DeepEqual(res.Chunks, want) {
			t.Fatalf("chunks\n got %+v\nwant %+v", res.Chunks, want)
		}
		if res.FetchAttempts != 2 || res.IndexedAs != "idx-D1" || res.Priority || res.Pages != 12 {
			t.Fatalf("result %+v", res)
		}
		events := e.history(t, "ingest-D1")
		fetch := attemptFailures(events, "FetchDocument")
		if len(fetch) != 1 || fetch[0].Failure.Type != "StoreUnavailable" {
			t.Fatalf("fetch attempt failures %+v", fetch)
		}
		crash := attemptFailures(events, "ExtractChunk")
		if len(crash) != 1 || crash[0].Failure.Type != engine.CodeActivityPanic ||
			!strings.Contains(crash[0].Failure.Message, "simulated crash: extractor died on page 9 of D1") {
			t.Fatalf("chunk attempt failures %+v", crash)
		}
		x := e.describe(t, "ingest-D1")
		if x.Progress == nil || *x.Progress != (engine.Progress{Done: 12, Total: 12}) ||
			x.StatusLine != "indexed 12 pages of D1 in 2 chunks as idx-D1" {
			t.Fatalf("progress %+v, status %q", x.Progress, x.StatusLine)
		}
	})

	// The progress query answers while the workflow waits; the priority
	// signal ends the throttling pause at once and enlarges the chunks.
	t.Run("priority signal and progress query", func(t *testing.T) {
		t.Parallel()
		in := examples.IngestInput{DocID: "D2", Pages: 30, ChunkPages: 5, PageTime: examples.Duration(time.Millisecond),
			Throttle: examples.Duration(time.Hour)}
		e.start(t, "ingest-D2", examples.IngestQueue, examples.DocumentIngestion, in)
		var p examples.IngestProgress
		e.waitFor(t, "ingest-D2", func() error {
			raw, err := e.client.Query(e.ctx, "ingest-D2", "", examples.QueryProgress, nil)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			if p.Stage != "throttled" {
				return fmt.Errorf("progress %+v, want throttled", p)
			}
			return nil
		})
		if want := (examples.IngestProgress{Stage: "throttled", PagesDone: 5, Pages: 30, ChunksDone: 1, ChunkPages: 5}); p != want {
			t.Fatalf("progress\n got %+v\nwant %+v", p, want)
		}
		if x := e.describe(t, "ingest-D2"); x.StatusLine != `throttled: next chunk in 1h0m0s (signal "priority" to skip)` || len(x.Timers) != 1 {
			t.Fatalf("status %q, timers %+v", x.StatusLine, x.Timers)
		}
		if err := e.client.Signal(e.ctx, "ingest-D2", "", examples.SignalPriority, nil); err != nil {
			t.Fatal(err)
		}
		var res examples.IngestResult
		e.mustResult(t, "ingest-D2", &res)
		var got [][2]int
		for _, c := range res.Chunks {
			got = append(got, [2]int{c.First, c.Last})
		}
		// One chunk of 5, then chunks of 20 with no pause between them.
		if want := [][2]int{{1, 5}, {6, 25}, {26, 30}}; !reflect.DeepEqual(got, want) || !res.Priority {
			t.Fatalf("chunks %v priority %v, want %v and priority", got, res.Priority, want)
		}
		events := e.history(t, "ingest-D2")
		if n := countEvents(events, engine.EventTimerCanceled); n != 1 {
			t.Fatalf("%d timers cancelled, want the hour-long pause", n)
		}
		if n := countEvents(events, engine.EventTimerStarted); n != 1 {
			t.Fatalf("%d timers started, want 1: priority skips the later pauses", n)
		}
	})

	t.Run("bad input fails with a clear error", func(t *testing.T) {
		t.Parallel()
		for id, c := range map[string]struct {
			in   examples.IngestInput
			want string
		}{
			"ingest-bad-1": {examples.IngestInput{Pages: 0}, "ingestion: doc_id is required; pages must be positive, got 0"},
			"ingest-bad-2": {examples.IngestInput{DocID: "D", Pages: 20_001, ChunkPages: 20},
				"ingestion: 20001 pages in chunks of 20 make 1001 chunks, over the 1000 a run may have: raise chunk_pages"},
		} {
			e.start(t, id, examples.IngestQueue, examples.DocumentIngestion, c.in)
			if app := wantAppError(t, e.result(t, id, nil), "BadInput"); app.Message != c.want {
				t.Fatalf("%s: message %q, want %q", id, app.Message, c.want)
			}
		}
	})
}
