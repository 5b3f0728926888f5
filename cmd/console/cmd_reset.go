package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
)

var resetCommand = &command{
	name: "reset", args: "WORKFLOW_ID [--to ID|first|last-good]", group: groupAct, action: performs(operator.ActReset),
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		fs.StringVar(&o.to, "to", engine.ResetLastGood, "reset point: an event id ending a workflow task, first, or last-good (just before the first failure)")
		fs.BoolVar(&o.reapplySignals, "reapply-signals", false, "deliver again, once, the signals received after the reset point")
		fs.StringVar(&o.reason, "reason", "", "why, recorded in history")
		defineBatch(fs, o)
	},
	params: func(o *opts, params []string, _ io.Reader) (operator.Params, error) {
		if len(params) > 0 {
			return operator.Params{}, usagef("reset takes no argument after the workflow id, got %q (use --to)", params)
		}
		switch o.to {
		case engine.ResetFirst, engine.ResetLastGood:
		default:
			if n, err := strconv.ParseInt(o.to, 10, 64); err != nil || n < 1 {
				return operator.Params{}, usagef("--to %q: want an event id (a positive number), first or last-good", o.to)
			}
		}
		return operator.Params{To: o.to, ReapplySignals: o.reapplySignals, Reason: o.reason, DryRun: o.dryRun}, nil
	},
}

// printReset says what a reset kept, dropped and re-applied.
func printReset(w io.Writer, res engine.ResetResult) error {
	if res.DryRun {
		fmt.Fprintf(w, "Dry run: resetting %s (run %s) to event %d would keep %d events and drop %d.\n",
			res.WorkflowID, res.OldRunID, res.ResetEventID, len(res.Kept), len(res.Dropped))
	} else {
		fmt.Fprintf(w, "Reset %s: run %s closed as reset; new run %s continues from event %d (kept %d events, dropped %d).\n",
			res.WorkflowID, res.OldRunID, res.NewRunID, res.ResetEventID, len(res.Kept), len(res.Dropped))
	}
	if len(res.Dropped) == 0 {
		// Nothing after the reset point: the new run replays the whole
		// history and waits where the old one waited.
		fmt.Fprintf(w, "Warning: no event after event %d: the reset drops nothing and changes only the run id.\n", res.ResetEventID)
	}
	if len(res.Dropped) > 0 {
		fmt.Fprintln(w, "Dropped:")
		t := &table{}
		for _, e := range res.Dropped {
			t.add("  "+strconv.FormatInt(e.ID, 10), string(e.Type), clip(eventDetail(e), 100))
		}
		if err := t.print(w); err != nil {
			return err
		}
	}
	if len(res.Reapplied) > 0 {
		fmt.Fprintf(w, "Signals delivered again to the new run: %d\n", len(res.Reapplied))
	}
	return nil
}
