package examples

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// IngestQueue is the task queue of DocumentIngestion.
const IngestQueue = "ingest"

// Names of DocumentIngestion's signal and query.
const (
	// SignalPriority makes a running ingestion go faster: bigger chunks and
	// no throttling pause between them. Its payload is ignored.
	SignalPriority = "priority"
	// QueryProgress answers an IngestProgress.
	QueryProgress = "progress"
)

// Defaults of IngestInput.
const (
	DefaultChunkPages = 10
	DefaultPageTime   = 100 * time.Millisecond
	DefaultThrottle   = time.Second
	// PriorityChunkFactor multiplies the chunk size once the priority
	// signal arrived.
	PriorityChunkFactor = 4
	// MaxChunks bounds the chunks of one document, and so its history.
	MaxChunks = 1000
)

// IngestInput is the input of DocumentIngestion.
type IngestInput struct {
	DocID string `json:"doc_id"`
	Pages int    `json:"pages"`
	// ChunkPages is how many pages one ExtractChunk activity handles
	// (default DefaultChunkPages).
	ChunkPages int `json:"chunk_pages,omitempty"`
	// PageTime is how long extracting one page takes (default DefaultPageTime).
	PageTime Duration `json:"page_time,omitempty"`
	// Throttle is the pause between chunks, to spare the downstream index
	// (default DefaultThrottle). The priority signal skips it.
	Throttle Duration `json:"throttle,omitempty"`
	// FlakyAttempts is how many attempts of FetchDocument fail before one
	// succeeds, as a flaky document store would (0: none).
	FlakyAttempts int `json:"flaky_attempts,omitempty"`
	// CrashAtPage makes the first attempt of the chunk holding this page
	// panic when it reaches it (a simulated crash of the extractor); the
	// retry resumes from the last heartbeat instead of starting over.
	CrashAtPage int `json:"crash_at_page,omitempty"`
}

// IngestProgress is the answer to the "progress" query.
type IngestProgress struct {
	Stage      string `json:"stage"`
	PagesDone  int    `json:"pages_done"`
	Pages      int    `json:"pages"`
	ChunksDone int    `json:"chunks_done"`
	ChunkPages int    `json:"chunk_pages"`
	Priority   bool   `json:"priority"`
}

// IngestResult is the result of DocumentIngestion.
type IngestResult struct {
	DocID         string        `json:"doc_id"`
	Pages         int           `json:"pages"`
	FetchAttempts int           `json:"fetch_attempts"`
	Priority      bool          `json:"priority"`
	Chunks        []ChunkResult `json:"chunks"`
	IndexedAs     string        `json:"indexed_as"`
}

// DocumentIngestion fetches a document (a flaky step, retried with backoff),
// extracts its pages chunk by chunk (long activities that heartbeat their
// progress, so a crashed attempt's successor resumes where it stopped), and
// indexes the result. Between chunks it pauses to spare downstream systems,
// unless the "priority" signal arrived; the "progress" query answers where
// it is at any time.
func DocumentIngestion(ctx engine.Context, in IngestInput) (IngestResult, error) {
	if err := in.validate(); err != nil {
		return IngestResult{}, err
	}
	chunkPages := in.chunkPages()
	// The workflow's state is plain local variables: the query handler
	// reads them, and replay rebuilds them from history after a restart.
	prog := IngestProgress{Stage: "fetching", Pages: in.Pages, ChunkPages: chunkPages}
	if err := engine.SetQueryHandler(ctx, QueryProgress, func() (IngestProgress, error) { return prog, nil }); err != nil {
		return IngestResult{}, err
	}
	// Signals wait in their channel until the code takes them: the
	// priority signal is checked before each chunk and during each pause.
	priority := engine.GetSignalChannel(ctx, SignalPriority)
	goFaster := func() {
		prog.Priority = true
		prog.ChunkPages = chunkPages * PriorityChunkFactor
	}
	res := IngestResult{DocID: in.DocID, Pages: in.Pages}

	// Step 1, flaky: the retry policy absorbs transient failures. Each
	// failed attempt is in history (and in the console: "attempt 3, next
	// retry in 4s") without a line of retry code here.
	engine.SetStatus(ctx, "fetching "+in.DocID)
	fetchCtx := engine.WithActivityOptions(ctx, engine.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &engine.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 10},
	})
	if err := engine.ExecuteActivity(fetchCtx, FetchDocument, in).Get(ctx, &res.FetchAttempts); err != nil {
		return IngestResult{}, err
	}

	// Step 2: one long activity per chunk. HeartbeatTimeout notices a dead
	// worker within 10 s (the attempt is then retried elsewhere); the
	// heartbeat details carry the next page to the retry.
	chunkCtx := engine.WithActivityOptions(ctx, engine.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    10 * time.Second,
		RetryPolicy:         &engine.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumAttempts: 5},
	})
	pageTime := in.PageTime.or(DefaultPageTime)
	for first := 1; first <= in.Pages; {
		if !prog.Priority && priority.ReceiveAsync(nil) {
			goFaster()
		}
		last := min(first+prog.ChunkPages-1, in.Pages)
		prog.Stage = fmt.Sprintf("extracting pages %d-%d", first, last)
		engine.SetStatus(ctx, fmt.Sprintf("%s of %d%s", prog.Stage, in.Pages, priorityNote(prog.Priority)))
		var cr ChunkResult
		chunk := Chunk{DocID: in.DocID, First: first, Last: last, PageTime: Duration(pageTime), CrashAtPage: in.CrashAtPage}
		if err := engine.ExecuteActivity(chunkCtx, ExtractChunk, chunk).Get(ctx, &cr); err != nil {
			return IngestResult{}, err
		}
		res.Chunks = append(res.Chunks, cr)
		prog.PagesDone, prog.ChunksDone = last, prog.ChunksDone+1
		engine.SetProgress(ctx, int64(prog.PagesDone), int64(in.Pages))
		first = last + 1
		if first <= in.Pages && !prog.Priority {
			d := in.Throttle.or(DefaultThrottle)
			prog.Stage = "throttled"
			engine.SetStatus(ctx, fmt.Sprintf("throttled: next chunk in %s (signal %q to skip)", d, SignalPriority))
			signaled, err := pauseUnlessSignaled(ctx, d, priority)
			if err != nil {
				return IngestResult{}, err
			}
			if signaled {
				goFaster()
			}
		}
	}

	// Step 3: index what was extracted.
	prog.Stage = "indexing"
	engine.SetStatus(ctx, "indexing "+in.DocID)
	if err := engine.ExecuteActivity(fetchCtx, IndexDocument, in).Get(ctx, &res.IndexedAs); err != nil {
		return IngestResult{}, err
	}
	res.Priority = prog.Priority
	prog.Stage = "done"
	engine.SetStatus(ctx, fmt.Sprintf("indexed %d pages of %s in %d chunks as %s", in.Pages, in.DocID, len(res.Chunks), res.IndexedAs))
	return res, nil
}

// pauseUnlessSignaled waits d on a durable timer, or less if a value
// arrives on ch (it is taken, and the result is true). A Selector waits for
// whichever comes first; the timer is cancelled if the signal wins.
func pauseUnlessSignaled(ctx engine.Context, d time.Duration, ch engine.Channel) (signaled bool, err error) {
	if ch.ReceiveAsync(nil) {
		return true, nil
	}
	timerCtx, cancelTimer := engine.WithCancel(ctx)
	defer cancelTimer()
	engine.NewSelector(ctx).
		AddFuture(engine.NewTimer(timerCtx, d), func(f engine.Future) { err = f.Get(ctx, nil) }).
		AddReceive(ch, func(c engine.Channel, _ bool) { signaled = c.ReceiveAsync(nil) }).
		Select(ctx)
	return signaled, err
}

func (in IngestInput) chunkPages() int {
	if in.ChunkPages <= 0 {
		return DefaultChunkPages
	}
	return in.ChunkPages
}

func priorityNote(p bool) string {
	if p {
		return " (priority)"
	}
	return ""
}

func (in IngestInput) validate() error {
	var bad []string
	if in.DocID == "" {
		bad = append(bad, "doc_id is required")
	}
	if in.Pages <= 0 {
		bad = append(bad, fmt.Sprintf("pages must be positive, got %d", in.Pages))
	}
	if in.ChunkPages < 0 || in.FlakyAttempts < 0 || in.CrashAtPage < 0 || in.PageTime < 0 || in.Throttle < 0 {
		bad = append(bad, "chunk_pages, flaky_attempts, crash_at_page, page_time and throttle must not be negative")
	} else if chunks := (in.Pages + in.chunkPages() - 1) / in.chunkPages(); chunks > MaxChunks {
		// Each chunk adds a few events to the run's history, which must
		// stay well under the engine's limit (engine.HistoryLimit).
		bad = append(bad, fmt.Sprintf("%d pages in chunks of %d make %d chunks, over the %d a run may have: raise chunk_pages",
			in.Pages, in.chunkPages(), chunks, MaxChunks))
	}
	if len(bad) > 0 {
		return engine.NewApplicationError("BadInput", "ingestion: "+strings.Join(bad, "; "), true)
	}
	return nil
}

// FetchDocument pretends to download a document from a flaky store: its
// first in.FlakyAttempts attempts fail. It returns the attempt that worked.
func FetchDocument(ctx context.Context, in IngestInput) (int, error) {
	attempt := engine.GetActivityInfo(ctx).Attempt
	if attempt <= in.FlakyAttempts {
		return 0, engine.NewApplicationError("StoreUnavailable",
			fmt.Sprintf("document store timed out fetching %s (attempt %d)", in.DocID, attempt), false)
	}
	return attempt, pause(ctx, 100*time.Millisecond)
}

// Chunk is the input of ExtractChunk: pages First..Last of a document.
type Chunk struct {
	DocID       string   `json:"doc_id"`
	First       int      `json:"first"`
	Last        int      `json:"last"`
	PageTime    Duration `json:"page_time"`
	CrashAtPage int      `json:"crash_at_page,omitempty"`
}

// ChunkResult says what the successful attempt of ExtractChunk did.
type ChunkResult struct {
	First int `json:"first"`
	Last  int `json:"last"`
	// Attempt is the attempt that finished the chunk.
	Attempt int `json:"attempt"`
	// ResumedFrom is the page this attempt started at: First, or later when
	// an earlier attempt's heartbeat said those pages were already done.
	ResumedFrom int `json:"resumed_from"`
	// Extracted counts the pages this attempt extracted itself.
	Extracted int `json:"extracted"`
}

// chunkHeartbeat is what ExtractChunk records after each page.
type chunkHeartbeat struct {
	NextPage int `json:"next_page"`
}

// ExtractChunk extracts a chunk's pages one by one, recording a heartbeat
// after each. The heartbeat both proves the attempt alive (a silent one is
// timed out and retried) and carries its progress: a retry reads the last
// details with GetHeartbeatDetails and skips the pages already done.
func ExtractChunk(ctx context.Context, c Chunk) (ChunkResult, error) {
	info := engine.GetActivityInfo(ctx)
	res := ChunkResult{First: c.First, Last: c.Last, Attempt: info.Attempt, ResumedFrom: c.First}
	var hb chunkHeartbeat
	if engine.GetHeartbeatDetails(ctx, &hb) && hb.NextPage > c.First {
		res.ResumedFrom = hb.NextPage
	}
	for page := res.ResumedFrom; page <= c.Last; page++ {
		if page == c.CrashAtPage && info.Attempt == 1 {
			panic(fmt.Sprintf("simulated crash: extractor died on page %d of %s", page, c.DocID))
		}
		if err := pause(ctx, time.Duration(c.PageTime)); err != nil {
			return res, err
		}
		res.Extracted++
		if err := engine.RecordHeartbeat(ctx, chunkHeartbeat{NextPage: page + 1}); err != nil {
			return res, err // cancelled: the workflow gave up on this chunk
		}
	}
	return res, nil
}

// IndexDocument pretends to index the extracted text and returns its index id.
func IndexDocument(ctx context.Context, in IngestInput) (string, error) {
	if err := pause(ctx, 100*time.Millisecond); err != nil {
		return "", err
	}
	return "idx-" + in.DocID, nil
}
