package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/operator"
)

var compensateCommand = &command{
	name: "compensate", args: "WORKFLOW_ID [--wait]", group: groupAct,
	action: func(o *opts, _ []string) string {
		switch {
		case o.retry:
			return operator.ActCompensateRetry
		case o.skip:
			return operator.ActCompensateSkip
		}
		return operator.ActCompensate
	},
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		fs.StringVar(&o.reason, "reason", "", "why, recorded in history")
		fs.BoolVar(&o.wait, "wait", false, "wait until every step ran (or one failed and waits for --retry or --skip)")
		fs.BoolVar(&o.retry, "retry", false, "run the failed step of a compensation again")
		fs.BoolVar(&o.skip, "skip", false, "give up on the failed step of a compensation and go on")
		defineBatch(fs, o)
	},
	streams: func(o *opts) bool { return o.wait },
	params: func(o *opts, params []string, _ io.Reader) (operator.Params, error) {
		if len(params) > 0 {
			return operator.Params{}, usagef("compensate takes no argument after the workflow id, got %q", params)
		}
		if o.retry && o.skip {
			return operator.Params{}, usagef("compensate: --retry and --skip exclude each other")
		}
		return operator.Params{Reason: o.reason, Wait: o.wait, DryRun: o.dryRun}, nil
	},
}

// printPlanNote prints a plan and what became of it.
func printPlanNote(w io.Writer, p compensations.Plan, note string) error {
	if err := printPlan(w, p); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, upperFirst(note)+".")
	return err
}

// printPlan shows a run's compensations in the order they run.
func printPlan(w io.Writer, p compensations.Plan) error {
	state := "pending"
	if p.Compensated {
		state = "compensated"
	}
	fmt.Fprintf(w, "Compensation plan of %s (run %s), newest first: %d steps, %s\n", p.WorkflowID, p.RunID, len(p.Steps), state)
	if len(p.Steps) == 0 {
		return nil
	}
	t := &table{header: []string{"  SEQ", "ACTIVITY", "TASK QUEUE", "STATUS", "INPUT"}}
	for _, s := range p.Steps {
		t.add("  "+strconv.FormatInt(s.Seq, 10), s.Activity, s.TaskQueue, string(s.Status), clip(compactJSON(s.Input), 60))
	}
	return t.print(w)
}
