package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// target is the run an action applies to; RunID "" is the current run.
type target struct {
	WorkflowID string
	RunID      string
}

func (t target) String() string {
	if t.RunID == "" {
		return t.WorkflowID
	}
	return t.WorkflowID + " (run " + t.RunID + ")"
}

// action is a write on one run, built once from the command's arguments and
// applied to one target or to each run of a batch.
type action struct {
	verb string
	// params are the action's arguments, recorded in a batch journal so a
	// resume can check it does the same thing.
	params map[string]any
	// do applies the action.
	do func(ctx context.Context, c *engine.Client, t target) (outcome, error)
	// took reports whether history shows this action on t by identity at
	// or after since: how a resumed batch settles a run whose earlier
	// attempt was interrupted. nil means the history cannot tell.
	took func(ctx context.Context, c *engine.Client, t target, identity string, since time.Time) (bool, error)
	// dryRuns: do itself honours --dry-run (reset); for the others a dry
	// run only checks that the run exists.
	dryRuns bool
	// preview, when set, shows on stderr what a confirmed action will do.
	preview func(ctx context.Context, c *engine.Client, t target, w io.Writer) error
}

// outcome is what an applied action reports.
type outcome struct {
	// RunID is the run acted on, when the action knows it.
	RunID string
	// Detail is one line for tables and batch results ("approved manager").
	Detail string
	// Data, when set, is printed with -o json/jsonl instead of the result line.
	Data any
	// Print, when set, prints the table form instead of the result line.
	Print func(w io.Writer) error
}

// itemResult is the result line of one run: the output of a single action
// and of each batch item (jsonl with -o jsonl).
type itemResult struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
	Action     string `json:"action"`
	Result     string `json:"result"` // ok, skipped or error
	Reason     string `json:"reason,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

func (a *app) printResult(r itemResult) error {
	if a.out.format != formatTable {
		return a.out.value(r)
	}
	note := r.Detail
	if r.Reason != "" {
		note = r.Reason
	}
	// fixed widths: batch results arrive one by one and must still line up
	_, err := fmt.Fprintf(a.io.out, "%-7s  %-24s  %-36s  %s\n", r.Result, cell(r.WorkflowID), cell(r.RunID), cell(note))
	return err
}

// runSingle applies a write command to the run its first argument names.
func (a *app) runSingle(ctx context.Context, cmd *command, o *opts, pos []string) error {
	if len(pos) == 0 {
		return usagef("%s needs a WORKFLOW_ID (or -q QUERY for a batch); see foreman help %s", cmd.name, cmd.name)
	}
	t := target{WorkflowID: pos[0], RunID: o.run}
	act, err := cmd.act(o, pos[1:], a.io.in)
	if err != nil {
		return err
	}
	c, err := a.engine(ctx)
	if err != nil {
		return err
	}
	// Bind the action to the run current now: what a confirmation shows
	// is what gets acted on, and the result names the run.
	x, err := c.Describe(ctx, t.WorkflowID, t.RunID)
	if err != nil {
		return err
	}
	t.RunID = x.RunID
	if o.dryRun && !act.dryRuns {
		a.infof("dry run: %s would act on %s run %s (%s); nothing changed", cmd.name, x.WorkflowID, x.RunID, x.Status)
		return nil
	}
	if cmd.destructive && !o.dryRun && !a.g.yes {
		if act.preview != nil {
			if err := act.preview(ctx, c, t, a.io.err); err != nil {
				return err
			}
		}
		if err := a.confirm(fmt.Sprintf("%s %s?", cmd.name, t)); err != nil {
			return err
		}
	}
	out, err := act.do(ctx, c, t)
	if err != nil {
		return err
	}
	runID := out.RunID
	if runID == "" {
		runID = t.RunID
	}
	switch {
	case a.out.format != formatTable && out.Data != nil:
		return a.out.value(out.Data)
	case a.out.format == formatTable && out.Print != nil:
		return out.Print(a.io.out)
	}
	return a.printResult(itemResult{WorkflowID: t.WorkflowID, RunID: runID, Action: act.verb, Result: "ok", Detail: out.Detail})
}
