package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/auth"
)

// Action is one operator action, declared once. The CLI's subcommands, the
// console's keys, dialogs and help, the read-only decorator and the batch
// runner all read it from the catalog.
type Action struct {
	// Name is the catalog key ("cancel", "compensate-retry").
	Name string
	// Verb is how results name the action ("compensate --retry"); default Name.
	Verb string
	// Summary is one line for help.
	Summary string
	// Write actions change runs or shared state; ReadOnly refuses them.
	Write bool
	// Roles may perform the action besides the operator and admin roles
	// (the approver role decides approvals). Reads and dry runs are open to
	// every role but worker; the engine checks (Permits) every request.
	Roles []auth.Role
	// Destructive actions cannot be undone: the CLI confirms them (or needs
	// --yes), the console asks to type the workflow id.
	Destructive bool
	// Needs says what the action asks the operator for.
	Needs Needs
	// States are the run statuses the engine accepts the action in; empty
	// means any (reset and compensate also work on closed runs).
	States []engine.Status
	// DryRuns: Perform with Params.DryRun previews without changing
	// anything (reset, compensate). For the other actions a dry run never
	// reaches Do.
	DryRuns bool
	// Args are the parameters a batch journal records, so that a resume
	// can check it does the same thing (the journal's format: keep keys).
	Args func(p Params) map[string]any
	// Do performs the action on one run.
	Do func(ctx context.Context, env Env, t Target, p Params) (Outcome, error)
	// Took reports whether t's history shows this action done by
	// env.Identity at or after since: how a resumed batch settles a run
	// whose earlier attempt was interrupted mid-action. nil: history
	// cannot tell.
	Took func(ctx context.Context, env Env, t Target, p Params, since time.Time) (bool, error)
}

// Needs is what an action asks the operator for before it runs.
type Needs struct {
	// Reason is recorded in history; ReasonRequired refuses an empty one.
	Reason, ReasonRequired bool
	// Comment is recorded with a decision.
	Comment bool
	// Input is a JSON payload (a signal's).
	Input bool
	// Confirm: a typed confirmation (or --yes) even on one run.
	Confirm bool
}

// VerbOf is how results name a.
func (a *Action) VerbOf() string {
	if a.Verb != "" {
		return a.Verb
	}
	return a.Name
}

// journalArgs encodes the arguments a batch journal records (nil when a
// is nil or records none).
func (a *Action) journalArgs(p Params) (json.RawMessage, error) {
	if a == nil || a.Args == nil {
		return nil, nil
	}
	raw, err := json.Marshal(a.Args(p))
	if err != nil {
		return nil, fmt.Errorf("encoding the arguments of %s: %w", a.Name, err)
	}
	return raw, nil
}

// Permits tells whether role r may perform the action (a dry run when
// dryRun): operator and admin every action, the roles the action names,
// and every role but worker what changes nothing. Worker credentials
// perform no operator action at all.
func (a *Action) Permits(r auth.Role, dryRun bool) bool {
	switch {
	case r == auth.Worker:
		return false
	case r == auth.Operator || r == auth.Admin || slices.Contains(a.Roles, r):
		return true
	}
	return !a.Write || dryRun && a.DryRuns
}

// Allows tells whether a run in status s accepts the action.
func (a *Action) Allows(s engine.Status) bool {
	return len(a.States) == 0 || slices.Contains(a.States, s)
}

// Target is the run an action applies to; RunID "" is the current run.
type Target struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
	// Approval names the approval a decision is about on this run (the
	// console's inbox decides several approvals of one run in a batch);
	// "" falls back to Params.Approval, then to the run's only one.
	Approval string `json:"approval,omitempty"`
	// Skip, when set, is why a batch skips this run without acting.
	Skip string `json:"-"`
}

func (t Target) String() string {
	if t.RunID == "" {
		return t.WorkflowID
	}
	return t.WorkflowID + " (run " + t.RunID + ")"
}

// Params are an action's arguments; each action reads the ones it needs.
type Params struct {
	Reason  string // cancel, terminate, reset, compensate
	Comment string // approve, reject
	// Name is the signal's name, the workflow type to start, or the view's name.
	Name string
	// Approval is the approval to decide on every run ("" = each run's only one).
	Approval string
	// Input is a signal's payload or a started run's input (JSON).
	Input json.RawMessage
	// To and ReapplySignals: reset.
	To             string
	ReapplySignals bool
	// Wait: compensate waits until every step ran.
	Wait bool
	// Start: the options of a started run.
	Start engine.StartOptions
	// Query: a saved view's query.
	Query string
	// DryRun changes nothing.
	DryRun bool
	// UpdateID and UpdateWait: update (builtin_update.go).
	UpdateID   string
	UpdateWait engine.UpdateStage
}

// Outcome is what a performed action reports.
type Outcome struct {
	// RunID is the run acted on, when the action knows it.
	RunID string
	// Detail is one line for tables and batch results ("approved manager").
	Detail string
	// Data is the action's full result (engine.ResetResult,
	// compensations.Plan, engine.Run), for JSON output and previews.
	Data any
}

// Env is what actions run against.
type Env struct {
	Client *engine.Client
	// Identity is who acts, recorded in history (the client's identity).
	Identity string
	// SaveView and DeleteView keep the shared saved views (nil: the view
	// actions fail).
	SaveView   func(ctx context.Context, name, query string) error
	DeleteView func(ctx context.Context, name string) error
	// Rules manages notification rules (notify.go; nil: the notify
	// actions fail).
	Rules Rules
}

// Catalog is a set of actions by name; it is safe for concurrent use.
type Catalog struct {
	mu      sync.RWMutex
	actions map[string]*Action
	order   []string
}

// NewCatalog returns a catalog of actions.
func NewCatalog(actions ...Action) *Catalog {
	c := &Catalog{actions: map[string]*Action{}}
	for _, a := range actions {
		c.Register(a)
	}
	return c
}

// Register adds a to the catalog; it panics on a duplicate or an action
// without a name or Do, which are programming errors found at start-up.
func (c *Catalog) Register(a Action) {
	if a.Name == "" || a.Do == nil {
		panic(fmt.Sprintf("operator: action %q registered without a name or Do", a.Name))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.actions[a.Name]; dup {
		panic(fmt.Sprintf("operator: action %q registered twice", a.Name))
	}
	c.actions[a.Name] = &a
	c.order = append(c.order, a.Name)
}

// Lookup returns the action called name.
func (c *Catalog) Lookup(name string) (*Action, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok := c.actions[name]
	return a, ok
}

// Actions lists the catalog in registration order.
func (c *Catalog) Actions() []*Action {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Action, len(c.order))
	for i, n := range c.order {
		out[i] = c.actions[n]
	}
	return out
}

// Clone returns a copy a test can register into without touching c.
func (c *Catalog) Clone() *Catalog {
	n := NewCatalog()
	for _, a := range c.Actions() {
		n.Register(*a)
	}
	return n
}

// writes tells whether req would change anything: a write action, unless
// it is a dry run (Actions never lets a dry run reach a Do that does not
// honour it). An action the catalog does not know counts as a write, so
// read-only refuses what it cannot vouch for.
func (c *Catalog) writes(req Request) bool {
	a, ok := c.Lookup(req.Action)
	return !ok || (a.Write && !req.Params.DryRun)
}
