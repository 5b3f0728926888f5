package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
)

// Request is one action on one run.
type Request struct {
	Action string
	Target Target
	Params Params
}

// Actions performs catalog actions. Every write the CLI and the console
// make goes through one: New over the engine, wrapped by ReadOnly when the
// operator asked for read-only.
type Actions interface {
	// Check reports, without doing anything, whether Perform would refuse
	// req outright (read-only, unknown action): callers ask before
	// prompting or journaling, so a refusal comes first.
	Check(req Request) error
	// Perform runs req.
	Perform(ctx context.Context, req Request) (Outcome, error)
	// Took reports whether the run's history shows req done by this
	// identity at or after since (see Action.Took); false when the action
	// cannot tell.
	Took(ctx context.Context, req Request, since time.Time) (bool, error)
}

// ErrReadOnly is what every write refused in read-only mode matches
// (errors.Is); the CLI exits 4 on it.
var ErrReadOnly = errors.New("read-only mode: writes are disabled")

// ReadOnlyError is the refusal of one write in read-only mode.
type ReadOnlyError struct{ Action string }

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("refused: %s changes runs and --read-only is set; nothing was done", e.Action)
}

// Is makes errors.Is(err, ErrReadOnly) hold.
func (e *ReadOnlyError) Is(target error) bool { return target == ErrReadOnly }

// InvalidError is a request the action cannot run as asked (a missing
// argument, an ambiguous approval): the operator must change it. The CLI
// exits 2 on it.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalidf(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// ErrUnknownAction: the catalog has no action of that name.
var ErrUnknownAction = errors.New("unknown action")

// New returns the Actions that perform cat's actions against the engine;
// env is called on first use (the CLI connects lazily, so Check works
// without a connection).
func New(cat *Catalog, env func(ctx context.Context) (Env, error)) Actions {
	return &engineActions{cat: cat, env: env}
}

type engineActions struct {
	cat *Catalog
	env func(ctx context.Context) (Env, error)
}

func (e *engineActions) action(name string) (*Action, error) {
	a, ok := e.cat.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownAction, name)
	}
	return a, nil
}

func (e *engineActions) Check(req Request) error {
	_, err := e.action(req.Action)
	return err
}

func (e *engineActions) Perform(ctx context.Context, req Request) (Outcome, error) {
	a, err := e.action(req.Action)
	if err != nil {
		return Outcome{}, err
	}
	if req.Params.DryRun && !a.DryRuns {
		// the contract ReadOnly relies on: a dry run changes nothing
		return Outcome{Detail: "dry run: nothing changed"}, nil
	}
	env, err := e.env(ctx)
	if err != nil {
		return Outcome{}, err
	}
	return a.Do(ctx, env, req.Target, req.Params)
}

func (e *engineActions) Took(ctx context.Context, req Request, since time.Time) (bool, error) {
	a, err := e.action(req.Action)
	if err != nil || a.Took == nil {
		return false, err
	}
	env, err := e.env(ctx)
	if err != nil {
		return false, err
	}
	return a.Took(ctx, env, req.Target, req.Params, since)
}

// ReadOnly is read-only mode, in one place: it refuses every request whose
// catalog entry writes (and every action cat does not know), before next
// sees it. Reads, dry runs and Took pass through.
func ReadOnly(cat *Catalog, next Actions) Actions { return readOnly{cat: cat, next: next} }

type readOnly struct {
	cat  *Catalog
	next Actions
}

func (r readOnly) Check(req Request) error {
	if r.cat.writes(req) {
		verb := req.Action
		if a, ok := r.cat.Lookup(req.Action); ok {
			verb = a.VerbOf()
		}
		return &ReadOnlyError{Action: verb}
	}
	return r.next.Check(req)
}

func (r readOnly) Perform(ctx context.Context, req Request) (Outcome, error) {
	if err := r.Check(req); err != nil {
		return Outcome{}, err
	}
	return r.next.Perform(ctx, req)
}

func (r readOnly) Took(ctx context.Context, req Request, since time.Time) (bool, error) {
	return r.next.Took(ctx, req, since)
}

// Kind is what an error from an action says, for exit codes and journals.
type Kind int

const (
	// KindOther: a failure that may hide an effect (a lost connection).
	KindOther Kind = iota
	// KindInvalid: the request is malformed; the operator must change it.
	KindInvalid
	// KindNotFound: no such workflow, run, query handler or action.
	KindNotFound
	// KindRefused: the engine (or read-only mode) said no: the run is
	// closed, the approval gone, the operator not an approver, …
	KindRefused
	// KindTimeout: no answer in time; the action may have taken effect.
	KindTimeout
)

// Classify says what err means. Sentinels are matched with errors.Is, so
// wrapping anywhere keeps the kind.
func Classify(err error) Kind {
	var inv *InvalidError
	var app *engine.ApplicationError
	switch {
	case err == nil:
		return KindOther
	case errors.As(err, &inv),
		errors.Is(err, engine.ErrBadResetPoint),
		errors.Is(err, engine.ErrInvalidArgument),
		errors.As(err, &app) && (app.Type == "BadPayload" || app.Type == engine.CodePayloadTooLarge):
		return KindInvalid
	case errors.Is(err, ErrReadOnly),
		errors.Is(err, compensations.ErrNothingToCompensate),
		errors.Is(err, engine.ErrRunClosed),
		errors.Is(err, engine.ErrImportedRun),
		errors.Is(err, engine.ErrNoSuchApproval),
		errors.Is(err, engine.ErrNotApprover),
		errors.Is(err, engine.ErrPermissionDenied),
		errors.Is(err, engine.ErrAlreadyStarted),
		errors.Is(err, engine.ErrHistoryLimit),
		errors.Is(err, engine.ErrUpdateRejected):
		return KindRefused
	case errors.Is(err, engine.ErrWorkflowNotFound),
		errors.Is(err, engine.ErrUnknownQuery),
		errors.Is(err, engine.ErrNotFound),
		errors.Is(err, engine.ErrUnknownUpdate),
		errors.Is(err, ErrUnknownAction):
		return KindNotFound
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, engine.ErrNoResponders):
		return KindTimeout
	}
	return KindOther
}

// Definite tells whether err proves that an action did not take effect:
// the engine (or read-only mode) refused it before appending anything.
// Timeouts and connection errors do not: the append may have landed, and a
// resumed batch settles such a run from its history.
func Definite(err error) bool {
	switch Classify(err) {
	case KindInvalid, KindNotFound, KindRefused:
		return true
	}
	return errors.Is(err, engine.ErrBusy)
}

// needless reports whether err says the run no longer needs the action
// (closed, decided meanwhile, nothing left to compensate): a batch skips it.
func needless(err error) bool {
	return errors.Is(err, engine.ErrRunClosed) || errors.Is(err, engine.ErrNoSuchApproval) ||
		errors.Is(err, compensations.ErrNothingToCompensate)
}
