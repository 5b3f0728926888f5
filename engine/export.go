package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Export and import: `foreman export` writes runs as JSON lines, one run
// per line (its run record and its whole history); `foreman import` copies
// them into another engine as read-only runs for investigation, and the
// replayer reads the same file, so a production history becomes a
// regression test.

// ExportedRun is one line of an export file.
type ExportedRun struct {
	// Format is ExportFormat: the first thing a reader checks.
	Format string `json:"format"`
	// WorkflowID and RunID name the run; its history's WorkflowStarted
	// must name the same.
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	// ExportedAt is the source engine's time of the export.
	ExportedAt time.Time `json:"exported_at"`
	// Source names the engine it was exported from (its NATS URL, say).
	Source string `json:"source,omitempty"`
	// Run is the run record as `foreman show -o json` prints it at export
	// time: for the reader of the file (jq), not trusted by Import, which
	// folds the events again.
	Run *Execution `json:"run"`
	// Events is the run's whole history, from event 1.
	Events []Event `json:"events"`
}

// ExportFormat names the format of an export line. A reader refuses
// another version rather than guess at it.
const ExportFormat = "foreman.export/v1"

// Export reads one run (runID "" = the workflow's current run) as an
// export line.
func (c *Client) Export(ctx context.Context, workflowID, runID, source string) (ExportedRun, error) {
	events, err := c.History(ctx, workflowID, runID)
	if err != nil {
		return ExportedRun{}, fmt.Errorf("exporting %q: %w", workflowID, err)
	}
	x := Summarize(events)
	return ExportedRun{Format: ExportFormat, WorkflowID: workflowID, RunID: x.RunID, ExportedAt: clockOf(c.store).Now().UTC(),
		Source: source, Run: x, Events: events}, nil
}

// WriteExport writes one run as a line of an export file.
func WriteExport(w io.Writer, r ExportedRun) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("writing the export of %q: %w", r.WorkflowID, err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// maxExportLine bounds one line of an export file: a run at HistoryLimit
// with large payloads fits.
const maxExportLine = 512 << 20

// ReadExport calls fn with each run of an export file, checked (format,
// ids, a contiguous history starting with its WorkflowStarted).
func ReadExport(rd io.Reader, fn func(ExportedRun) error) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), maxExportLine)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		r, err := decodeExportLine(sc.Bytes())
		if err != nil {
			return fmt.Errorf("reading export line %d: %w", line, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading export line %d: %w", line+1, err)
	}
	return nil
}

func decodeExportLine(b []byte) (ExportedRun, error) {
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return ExportedRun{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if head.Format != ExportFormat {
		return ExportedRun{}, fmt.Errorf("%w: format %q, this foreman reads %q (export with the same version)", ErrInvalidArgument, head.Format, ExportFormat)
	}
	var r ExportedRun
	if err := json.Unmarshal(b, &r); err != nil {
		return ExportedRun{}, err
	}
	return r, r.check()
}

// check refuses a run whose history could not have been written by an
// engine: it is what Import would store.
func (r ExportedRun) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: run %s of %q: %s", ErrInvalidArgument, r.RunID, r.WorkflowID, fmt.Sprintf(format, a...))
	}
	if r.RunID == "" || !headerSafeID(r.RunID) {
		return bad("a run id of letters, digits, '-' and '_' is required")
	}
	if len(r.Events) == 0 {
		return bad("the history is empty")
	}
	if len(r.Events) >= HistoryLimit {
		return bad("%d events, over the history limit of %d", len(r.Events), HistoryLimit)
	}
	for i, e := range r.Events {
		if e.ID != int64(i+1) {
			return bad("event %d has id %d: a history has ids 1, 2, 3, ... without gaps", i+1, e.ID)
		}
	}
	s, ok := r.Events[0].Attrs.(*WorkflowStarted)
	if !ok {
		return bad("event 1 is %s, not WorkflowStarted", r.Events[0].Type)
	}
	if s.WorkflowID != r.WorkflowID || s.RunID != r.RunID {
		return bad("its WorkflowStarted names run %s of %q", s.RunID, s.WorkflowID)
	}
	if err := validateStart(StartOptions{ID: r.WorkflowID, TaskQueue: s.TaskQueue}); err != nil {
		return bad("%v", err)
	}
	return nil
}

// headerSafeID tells whether id can name a run in the store's subjects.
func headerSafeID(id string) bool {
	for _, c := range id {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// ImportResult says what Import did with one run.
type ImportResult struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Events     int    `json:"events"`
	// Already: the run was imported before; nothing was written.
	Already bool `json:"already,omitempty"`
	// Current: the run is the workflow id's current run here (so commands
	// without --run reach it); false when the id already had one.
	Current bool `json:"current"`
}

// importChunkBytes bounds one imported batch, well under the store's
// message limit (1 MB by default).
const importChunkBytes = 256 << 10

// Import copies an exported run into this engine, through the store as
// the engine writes history: its events in batches of kind BatchImported
// (whose headers neither wake the run nor derive work, so the dispatcher
// never hands it to a worker), then a RunImported event that marks it (in
// the summary, the index, the console). Every write refuses it
// (ErrImportedRun). The run keeps its ids; it becomes the workflow id's
// current run unless the id has one here. Importing again is a no-op, and
// an import a crash interrupted completes.
func (c *Client) Import(ctx context.Context, r ExportedRun) (ImportResult, error) {
	res := ImportResult{WorkflowID: r.WorkflowID, RunID: r.RunID, Events: len(r.Events)}
	if err := r.check(); err != nil {
		return res, fmt.Errorf("importing: %w", err)
	}
	fail := func(err error) (ImportResult, error) {
		return res, fmt.Errorf("importing run %s of %q: %w", r.RunID, r.WorkflowID, err)
	}
	have, err := c.store.ReadHistory(ctx, r.RunID, 0)
	if err != nil {
		return fail(err)
	}
	var seq uint64
	var next int64 = 1 // the first event not stored yet
	for _, sb := range have {
		if sb.Header.Kind != BatchImported {
			return fail(fmt.Errorf("%w: this engine has the run itself (not an imported copy)", ErrAlreadyStarted))
		}
		seq, next = sb.Seq, sb.Header.LastEventID+1
	}
	queue := r.Events[0].Attrs.(*WorkflowStarted).TaskQueue
	closed := false
	for _, e := range r.Events {
		closed = closed || e.Type.Closes()
	}
	appendBatch := func(events []Event) error {
		b := &Batch{Kind: BatchImported, Events: events}
		data, err := encodeBatch(b)
		if err != nil {
			return err
		}
		h := BatchHeader{RunID: r.RunID, WorkflowID: r.WorkflowID, TaskQueue: queue, Kind: BatchImported,
			FirstEventID: events[0].ID, LastEventID: events[len(events)-1].ID, Closed: closed && events[len(events)-1].ID >= int64(len(r.Events))}
		seq, err = c.store.AppendHistory(ctx, h, data, seq, fmt.Sprintf("import-%s-%d", r.RunID, h.FirstEventID))
		return err
	}
	marker := int64(len(r.Events)) + 1
	switch {
	case next > marker:
		res.Already = true
	default:
		var chunk []Event
		size := 0
		for _, e := range r.Events[min(next-1, int64(len(r.Events))):] {
			raw, err := json.Marshal(e)
			if err != nil {
				return fail(err)
			}
			if len(chunk) > 0 && size+len(raw) > importChunkBytes {
				if err := appendBatch(chunk); err != nil {
					return fail(err)
				}
				chunk, size = nil, 0
			}
			chunk, size = append(chunk, e), size+len(raw)
		}
		if len(chunk) > 0 {
			if err := appendBatch(chunk); err != nil {
				return fail(err)
			}
		}
		// Dated with the last event copied, so the copy's duration and last
		// activity read as the original's (the attributes say when it was
		// exported).
		at := r.Events[len(r.Events)-1].Time
		mark := Event{ID: marker, Type: EventRunImported, Time: at, Attrs: &RunImported{Format: r.Format, Source: r.Source, ExportedAt: r.ExportedAt, Identity: c.identity}}
		if err := appendBatch([]Event{mark}); err != nil {
			return fail(err)
		}
	}
	// The history first: a record naming a run whose history is not there
	// would have the start sweeper "complete" it.
	_, err = c.store.CreateRun(ctx, r.WorkflowID, RunRecord{RunID: r.RunID, CreatedAt: r.Events[0].Time})
	switch {
	case err == nil:
		res.Current = true
	case errors.Is(err, ErrExists):
		cur, _, gerr := c.store.GetRun(ctx, r.WorkflowID)
		res.Current = gerr == nil && cur.RunID == r.RunID
	default:
		return fail(err)
	}
	return res, nil
}

// importedErr is the refusal of a write to an imported run.
func importedErr(workflowID, runID string) error {
	return fmt.Errorf("%w: %q run %s was imported for investigation and accepts no changes", ErrImportedRun, workflowID, runID)
}
