package main

import (
	"context"
	"fmt"
	"io"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
)

// target is the run a command applies to; RunID "" is the current run.
type target = operator.Target

// itemResult is the result line of one run: the output of a single action
// and of each batch item (jsonl with -o jsonl).
type itemResult = operator.ItemResult

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

// printData prints the table form of an action's full result (a reset, a
// compensation plan); false when it has none.
func printData(w io.Writer, out operator.Outcome, note bool) (bool, error) {
	switch d := out.Data.(type) {
	case engine.ResetResult:
		return true, printReset(w, d)
	case compensations.Plan:
		if note {
			return true, printPlanNote(w, d, out.Detail)
		}
		return true, printPlan(w, d)
	case engine.UpdateResult:
		return true, printUpdate(w, d)
	}
	return false, nil
}

// runSingle applies a write command to the run its first argument names.
func (a *app) runSingle(ctx context.Context, cmd *command, o *opts, pos []string) error {
	if len(pos) == 0 {
		return usagef("%s needs a WORKFLOW_ID (or -q QUERY for a batch); see foreman help %s", cmd.name, cmd.name)
	}
	t := target{WorkflowID: pos[0], RunID: o.run}
	p, err := cmd.params(o, pos[1:], a.io.in)
	if err != nil {
		return err
	}
	act := cmd.entry(o, pos)
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
	if o.dryRun && !act.DryRuns {
		a.infof("dry run: %s would act on %s run %s (%s); nothing changed", cmd.name, x.WorkflowID, x.RunID, x.Status)
		return nil
	}
	if act.Destructive && !o.dryRun && !a.g.yes {
		if act.DryRuns {
			// preview on stderr what the confirmed action will do
			dry := p
			dry.DryRun = true
			out, err := a.actions.Perform(ctx, operator.Request{Action: act.Name, Target: t, Params: dry})
			if err != nil {
				return err
			}
			if _, err := printData(a.io.err, out, false); err != nil {
				return err
			}
		}
		if err := a.confirm(fmt.Sprintf("%s %s?", cmd.name, t)); err != nil {
			return err
		}
	}
	out, err := a.actions.Perform(ctx, operator.Request{Action: act.Name, Target: t, Params: p})
	if err != nil {
		return err
	}
	runID := out.RunID
	if runID == "" {
		runID = t.RunID
	}
	if a.out.format != formatTable && out.Data != nil {
		return a.out.value(out.Data)
	}
	if a.out.format == formatTable {
		if printed, err := printData(a.io.out, out, true); printed || err != nil {
			return err
		}
	}
	return a.printResult(itemResult{WorkflowID: t.WorkflowID, RunID: runID, Action: act.VerbOf(), Result: operator.ResultOK, Detail: out.Detail})
}
