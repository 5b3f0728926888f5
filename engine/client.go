package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

// Client starts, inspects and acts on workflow executions. It is safe for
// concurrent use.
type Client struct {
	store    Store
	identity string
	closes   *closeWatch // shared waits for results; nil: one follower per wait
	tracer   *tracer     // nil: tracing off (tracing.go)
	// deployment names what the store reaches, for hand-offs with the
	// workers of this process ("": none; local.go)
	deployment string
	acting     // who acts: client_auth.go
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// Identity is who the operator says they act for (default the OS
	// user), recorded beside the principal as "on behalf of". Without
	// authentication (no principal) it is recorded as who acted, as before.
	Identity string
	// Principal is the authenticated user the client acts as (default:
	// the user of the store's credentials, else Identity).
	Principal string
	// TracerProvider, when set, traces starts: a span per Start, whose
	// context the run's workflow tasks and activities continue, in
	// whichever process runs them (tracing.go). Nil: tracing off, at no
	// cost. engine/tracing.FromEnv builds one from OTEL_* variables.
	TracerProvider trace.TracerProvider
}

// NewClient returns a client over store.
func NewClient(store Store, opts ClientOptions) *Client {
	if opts.Identity == "" {
		opts.Identity = "unknown"
		if u, err := user.Current(); err == nil {
			opts.Identity = u.Username
		}
	}
	return &Client{store: store, identity: opts.Identity, closes: newCloseWatch(store), tracer: newTracer(opts.TracerProvider),
		deployment: deploymentOf(store), acting: newActing(store, opts)}
}

// Identity is who the client acts as.
func (c *Client) Identity() string { return c.identity }

// IDReusePolicy says whether a workflow id may start a new run once its
// previous run closed. An id is always unique among open runs.
type IDReusePolicy string

const (
	// AllowDuplicate: a new run may start once the previous one closed (default).
	AllowDuplicate IDReusePolicy = "allow_duplicate"
	// AllowDuplicateFailedOnly: only if the previous run did not complete.
	AllowDuplicateFailedOnly IDReusePolicy = "allow_duplicate_failed_only"
	// RejectDuplicate: an id starts at most one run, ever.
	RejectDuplicate IDReusePolicy = "reject_duplicate"
)

// StartOptions configure a start.
type StartOptions struct {
	ID            string // required
	TaskQueue     string // required
	IDReusePolicy IDReusePolicy
	// SearchAttributes are the run's custom search attributes from its
	// first event on.
	SearchAttributes map[string]SearchAttribute

	// scheduledBy and scheduledAt: the schedule and fire that start the
	// run (schedule_exec.go).
	scheduledBy string
	scheduledAt time.Time
}

// Run names one run of a workflow.
type Run struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

// MaxWorkflowIDBytes bounds workflow ids.
const MaxWorkflowIDBytes = 1000

func validateStart(opts StartOptions) error {
	switch {
	case opts.ID == "":
		return fmt.Errorf("start: %w: a workflow id is required", ErrInvalidArgument)
	case len(opts.ID) > MaxWorkflowIDBytes:
		return fmt.Errorf("start: %w: workflow id is %d bytes, over the %d-byte limit", ErrInvalidArgument, len(opts.ID), MaxWorkflowIDBytes)
	case !utf8.ValidString(opts.ID):
		return fmt.Errorf("start: %w: workflow id is not valid UTF-8", ErrInvalidArgument)
	}
	if err := CheckTaskQueue(opts.TaskQueue); err != nil {
		return fmt.Errorf("start %s: %w", opts.ID, err)
	}
	if err := checkSearchAttributes(opts.SearchAttributes); err != nil {
		return fmt.Errorf("start %s: %w: %w", opts.ID, ErrInvalidArgument, err)
	}
	switch opts.IDReusePolicy {
	case "", AllowDuplicate, AllowDuplicateFailedOnly, RejectDuplicate:
		return nil
	}
	return fmt.Errorf("start %s: %w: unknown id reuse policy %q", opts.ID, ErrInvalidArgument, opts.IDReusePolicy)
}

// Start starts a run of workflow (a function or its registered type name)
// with one input value. It fails with ErrAlreadyStarted if a run with the
// same id is open (exactly one of concurrent starts wins).
func (c *Client) Start(ctx context.Context, opts StartOptions, workflow any, input any) (Run, error) {
	return c.start(ctx, opts, workflow, input, nil)
}

// SignalWithStart signals the open run of opts.ID, or starts one with the
// signal already delivered.
func (c *Client) SignalWithStart(ctx context.Context, opts StartOptions, workflow any, input any, signal string, payload any) (Run, error) {
	sig, err := c.signalEvent(signal, payload)
	if err != nil {
		return Run{}, err
	}
	_, forward := c.forward(ctx)
	for range 10 {
		if forward {
			// Only the engine appends (signed) signals: start, then ask it.
			run, err := c.start(ctx, opts, workflow, input, nil)
			if err == nil {
				return run, c.Signal(ctx, opts.ID, run.RunID, signal, payload)
			}
			if !errors.Is(err, ErrAlreadyStarted) {
				return run, err
			}
		} else if run, err := c.start(ctx, opts, workflow, input, sig); !errors.Is(err, ErrAlreadyStarted) {
			return run, err
		}
		err = c.Signal(ctx, opts.ID, "", signal, payload)
		if !errors.Is(err, ErrRunClosed) {
			return Run{WorkflowID: opts.ID, RunID: c.currentRunID(ctx, opts.ID)}, err
		}
	}
	return Run{}, ErrBusy
}

func (c *Client) currentRunID(ctx context.Context, workflowID string) string {
	rec, _, err := c.store.GetRun(ctx, workflowID)
	if err != nil {
		return ""
	}
	return rec.RunID
}

func (c *Client) start(ctx context.Context, opts StartOptions, workflow any, input any, sig *Event) (run Run, err error) {
	if err := validateStart(opts); err != nil {
		return Run{}, err
	}
	if c.tracer != nil {
		var span trace.Span
		ctx, span = c.tracer.startWorkflowSpan(ctx, opts, FuncName(workflow))
		defer func() { endStartSpan(span, run, err) }()
	}
	raw, err := encodePayload(input, "workflow input")
	if err != nil {
		return Run{}, fmt.Errorf("start %s: %w", opts.ID, err)
	}
	runID := uuid.NewString()
	now := clockOf(c.store).Now().UTC()
	b := &Batch{Kind: BatchExternal, Events: []Event{{ID: 1, Type: EventWorkflowStarted, Time: now, Attrs: &WorkflowStarted{
		WorkflowID: opts.ID, RunID: runID, WorkflowType: FuncName(workflow), TaskQueue: opts.TaskQueue, Input: raw, Identity: c.principal, OnBehalfOf: c.onBehalfOf,
		SearchAttributes: opts.SearchAttributes, ScheduledBy: opts.scheduledBy, ScheduledStartTime: opts.scheduledAt.UTC()}}}}
	if sig != nil {
		s := *sig
		s.ID, s.Time = 2, now
		b.Events = append(b.Events, s)
		c.stamp(b.Events)
		if err := signEvents(c.store, runID, b.Events); err != nil {
			return Run{}, err
		}
	}
	data, err := encodeBatch(b)
	if err != nil {
		return Run{}, err
	}
	rec := RunRecord{RunID: runID, CreatedAt: now, Start: data, StartHeader: headerFor(b, runID, opts.ID, opts.TaskQueue)}
	if c.tracer != nil {
		rec.StartHeader.Trace = traceparentOf(ctx)
	}
	var appendedAt uint64 // where this call appended the start (0: it did not)
	noted := func(runID string, seq uint64) {
		appendedAt = seq
		if c.closes != nil {
			c.closes.noteStart(runID, seq) // its waits skip a read (client_results.go)
		}
	}
	w := c.eagerStarter(opts, FuncName(workflow))
	if w == nil {
		return claimRunNoting(ctx, c.store, opts.ID, rec, opts.IDReusePolicy, appendStart, noted)
	}
	rec.StartHeader.EagerStart = true
	handOff := true                // the start went alone, its first workflow task for w
	first := w.beginFirstTask(rec) // runs while the run is claimed
	appendFn := func(ctx context.Context, s Store, rec RunRecord) (uint64, error) {
		if first != nil {
			pending := first
			first = nil
			seq, together, failed, err := w.startWithFirstTask(ctx, s, rec, pending)
			if together {
				handOff = false
				return seq, err
			}
			if failed {
				handOff, rec.StartHeader.EagerStart = false, false // the dispatcher wakes it
			}
		}
		return appendStart(ctx, s, rec)
	}
	run, err = claimRunNoting(ctx, c.store, opts.ID, rec, opts.IDReusePolicy, appendFn, noted)
	if first != nil {
		w.dropFirstTask(first) // the run was not claimed
	}
	if err != nil || appendedAt == 0 || !handOff {
		w.endEagerStart()
	} else {
		c.handStart(w, rec, opts.ID, appendedAt)
	}
	return run, err
}

// claimRun makes rec the current run of id and records its start: the id
// must be free, or its current run closed (as policy allows). A record
// already naming rec's run (a redelivered child start) only completes the
// start. Exactly one of concurrent claims wins.
func claimRun(ctx context.Context, s Store, id string, rec RunRecord, policy IDReusePolicy) (Run, error) {
	return claimRunNoting(ctx, s, id, rec, policy, appendStart, nil)
}

// claimRunNoting is claimRun, appending the start with appendFn
// (appendStart, or one that adds the run's first workflow task), and
// telling noted (if set) where the run's history begins when this call
// appended its start.
func claimRunNoting(ctx context.Context, s Store, id string, rec RunRecord, policy IDReusePolicy,
	appendFn func(context.Context, Store, RunRecord) (uint64, error), noted func(runID string, seq uint64)) (Run, error) {
	run := Run{WorkflowID: id, RunID: rec.RunID}
	// The package's completeStart, noting the start's position.
	completeStart := func(ctx context.Context, s Store, rec RunRecord) error {
		seq, err := appendFn(ctx, s, rec)
		if err == nil && seq > 0 && noted != nil {
			noted(rec.RunID, seq)
		}
		return err
	}
	for range 10 {
		_, err := s.CreateRun(ctx, id, rec)
		if err == nil {
			return run, completeStart(ctx, s, rec)
		}
		if !errors.Is(err, ErrExists) {
			return Run{}, fmt.Errorf("start %s: %w", id, err)
		}
		cur, rev, err := s.GetRun(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Run{}, fmt.Errorf("start %s: %w", id, err)
		}
		if cur.RunID == rec.RunID {
			return run, completeStart(ctx, s, rec)
		}
		last, err := lastBatchOf(ctx, s, cur)
		if errors.Is(err, ErrInvalidArgument) {
			// The current run never started and never can (a record
			// the store refuses): it holds the id for nobody.
			if _, err := s.ReplaceRun(ctx, id, rec, rev); err == nil {
				return run, completeStart(ctx, s, rec)
			}
			continue
		}
		if err != nil {
			return Run{}, fmt.Errorf("start %s: %w", id, err)
		}
		// An imported copy holds the id for nobody: it never runs again.
		if (!last.Header.Closed && last.Header.Kind != BatchImported) || continuedAs(last) != "" {
			return Run{WorkflowID: id, RunID: cur.RunID}, fmt.Errorf("start %s: %w (run %s is open)", id, ErrAlreadyStarted, cur.RunID)
		}
		if err := reuseAllowed(policy, last); err != nil {
			return Run{WorkflowID: id, RunID: cur.RunID}, fmt.Errorf("start %s: %w", id, err)
		}
		if _, err := s.ReplaceRun(ctx, id, rec, rev); err == nil {
			return run, completeStart(ctx, s, rec)
		} else if !errors.Is(err, ErrConflict) {
			return Run{}, fmt.Errorf("start %s: %w", id, err)
		}
	}
	return Run{}, fmt.Errorf("start %s: %w", id, ErrBusy)
}

func reuseAllowed(p IDReusePolicy, last StoredBatch) error {
	switch p {
	case RejectDuplicate:
		return fmt.Errorf("%w: the id reuse policy rejects a second run", ErrAlreadyStarted)
	case AllowDuplicateFailedOnly:
		b, err := DecodeBatch(last.Data)
		if err != nil {
			return err
		}
		for _, e := range b.Events {
			if e.Type == EventWorkflowCompleted {
				return fmt.Errorf("%w: the previous run completed and the policy allows a new run only after a failure", ErrAlreadyStarted)
			}
		}
	}
	return nil
}

// continuedAs returns the run that continues the one whose last batch this
// is (continue-as-new or reset), or "".
func continuedAs(last StoredBatch) string {
	if !last.Header.Closed {
		return ""
	}
	b, err := DecodeBatch(last.Data)
	if err != nil {
		return ""
	}
	for _, e := range b.Events {
		if o, ok := closeOutcome(e); ok && o.next != "" {
			return o.next
		}
	}
	return ""
}

// completeStart appends a run's first batch from its record; whoever finds
// the history empty may do it, and only one append can win.
func completeStart(ctx context.Context, s Store, rec RunRecord) error {
	rec.StartHeader.EagerStart = false // no worker here took its first task
	_, err := appendStart(ctx, s, rec)
	return err
}

// appendStart is completeStart, returning the start batch's position (0
// when someone else completed it).
func appendStart(ctx context.Context, s Store, rec RunRecord) (uint64, error) {
	seq, err := s.AppendHistory(ctx, rec.StartHeader, rec.Start, 0, "start-"+rec.RunID)
	if errors.Is(err, ErrConflict) {
		return 0, nil // someone else completed it
	}
	if err != nil {
		return 0, fmt.Errorf("recording start of run %s: %w", rec.RunID, err)
	}
	return seq, nil
}

// lastBatch returns a run's newest batch, completing its start if a crash
// left the history empty.
func (c *Client) lastBatch(ctx context.Context, rec RunRecord) (StoredBatch, error) {
	return lastBatchOf(ctx, c.store, rec)
}

func lastBatchOf(ctx context.Context, s Store, rec RunRecord) (StoredBatch, error) {
	last, err := s.LastBatch(ctx, rec.RunID)
	if errors.Is(err, ErrNotFound) {
		if err := completeStart(ctx, s, rec); err != nil {
			return StoredBatch{}, err
		}
		last, err = s.LastBatch(ctx, rec.RunID)
	}
	return last, err
}

// sweepStarts completes starts a crash interrupted between the run record
// and the first history batch.
//
// A record whose start the store refuses for good (written by an older
// version that did not validate its task queue) is quarantined: logged once
// with what is wrong, left in place for operators, and skipped; the engine
// keeps serving, and a new start with the same id replaces it.
func sweepStarts(ctx context.Context, s Store, log *slog.Logger) error {
	n, bad := 0, 0
	err := s.ListRuns(ctx, func(workflowID string, rec RunRecord) error {
		if _, err := s.LastBatch(ctx, rec.RunID); errors.Is(err, ErrNotFound) {
			err := completeStart(ctx, s, rec)
			switch {
			case errors.Is(err, ErrInvalidArgument):
				bad++
				log.Error("quarantined a start that can never complete; start the workflow again to replace it",
					"workflow_id", workflowID, "run_id", rec.RunID, "err", err)
				return nil
			case err != nil:
				return err
			}
			n++
		}
		return nil
	})
	if n > 0 || bad > 0 {
		log.Info("completed interrupted starts", "count", n, "quarantined", bad)
	}
	return err
}

// resolve returns the run record for (workflowID, runID); runID "" means
// the current run.
func (c *Client) resolve(ctx context.Context, workflowID, runID string) (RunRecord, error) {
	rec, _, err := c.store.GetRun(ctx, workflowID)
	if errors.Is(err, ErrNotFound) {
		if runID != "" {
			return RunRecord{RunID: runID}, nil // an older run of the id
		}
		return RunRecord{}, fmt.Errorf("%w: %q", ErrWorkflowNotFound, workflowID)
	}
	if err != nil {
		return RunRecord{}, err
	}
	if runID != "" && runID != rec.RunID {
		return RunRecord{RunID: runID}, nil
	}
	return rec, nil
}

// History returns every event of a run.
func (c *Client) History(ctx context.Context, workflowID, runID string) ([]Event, error) {
	rec, err := c.resolve(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	if rec.Start != nil {
		if _, err := c.lastBatch(ctx, rec); err != nil {
			return nil, err
		}
	}
	events, err := readEvents(ctx, c.store, rec.RunID)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: run %s of %q", ErrWorkflowNotFound, rec.RunID, workflowID)
	}
	return events, nil
}

// Describe summarizes a run from its history.
func (c *Client) Describe(ctx context.Context, workflowID, runID string) (*Execution, error) {
	events, err := c.History(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	return Summarize(events), nil
}

// FollowHistory calls fn with each event of the run, existing ones first,
// then new ones as they are appended, until the run closes (returns nil),
// ctx ends, or fn returns an error.
func (c *Client) FollowHistory(ctx context.Context, workflowID, runID string, fn func(Event) error) error {
	rec, err := c.resolve(ctx, workflowID, runID)
	if err != nil {
		return err
	}
	errClosed := errors.New("closed")
	v, err := verifierOf(ctx, c.store)
	if err != nil {
		return err
	}
	err = c.store.FollowHistory(ctx, rec.RunID, 0, func(sb StoredBatch) error {
		if err := v.eachEvent(sb, fn); err != nil {
			return err
		}
		if sb.Header.Closed && !v.forgedClose(sb) {
			return errClosed
		}
		return nil
	})
	if errors.Is(err, errClosed) {
		return nil
	}
	return err
}

// GetResult waits for the run to close and decodes its result into
// valuePtr; a run that did not complete returns its failure as an error.
// Concurrent calls on one client share one reader of history instead of
// a server-side consumer each.
func (c *Client) GetResult(ctx context.Context, workflowID, runID string, valuePtr any) error {
	for {
		next, err := c.getResult(ctx, workflowID, runID, valuePtr)
		if err != nil || next == "" {
			return err
		}
		runID = next // continued as new: the result is the chain's
	}
}

func (c *Client) getResult(ctx context.Context, workflowID, runID string, valuePtr any) (string, error) {
	var closing *Event
	compensated := false // the status words are Summarize's: see compensatedStatus
	see := func(e Event) error {
		if e.Type.Closes() {
			closing = &e
		}
		if m, ok := e.Attrs.(*MarkerRecorded); ok && m.Kind == MarkerCompensated {
			compensated = true
		}
		return nil
	}
	var err error
	if c.closes != nil {
		err = c.awaitOutcome(ctx, workflowID, runID, see)
	} else {
		err = c.FollowHistory(ctx, workflowID, runID, see)
	}
	if err != nil {
		return "", err
	}
	if closing == nil {
		return "", ctx.Err()
	}
	o, ok := closeOutcome(*closing)
	switch {
	case !ok:
		return "", nil
	case o.next != "":
		return o.next, nil
	case o.status == StatusCompleted:
		if valuePtr != nil && len(o.result) > 0 {
			return "", json.Unmarshal(o.result, valuePtr)
		}
		return "", nil
	}
	return "", newWorkflowError(o.status, compensated, o.failure)
}

func newWorkflowError(closed Status, compensated bool, f *Failure) *WorkflowError {
	e := &WorkflowError{Status: closed, CloseStatus: closed, Failure: f}
	if compensated {
		e.Status = compensatedStatus(closed)
	}
	return e
}

// WorkflowError is a run's failure as seen by a client.
type WorkflowError struct {
	Status Status // as Execution.Status: compensated for a failed saga
	// CloseStatus is how the run closed (failed, canceled, terminated).
	CloseStatus Status
	Failure     *Failure
}

func (e *WorkflowError) Error() string {
	if e.CloseStatus != "" && e.CloseStatus != e.Status {
		return fmt.Sprintf("workflow %s (%s, then compensated): %s", e.Status, e.CloseStatus, e.Failure.Error())
	}
	return fmt.Sprintf("workflow %s: %s", e.Status, e.Failure.Error())
}

// Unwrap exposes the failure as an ApplicationError.
func (e *WorkflowError) Unwrap() error {
	return &ApplicationError{Type: e.Failure.Type, Message: e.Failure.Message, NonRetryable: e.Failure.NonRetryable}
}
