package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/google/uuid"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
)

// startResult is what start prints (with --wait, the outcome too).
type startResult struct {
	WorkflowID string        `json:"workflow_id"`
	RunID      string        `json:"run_id"`
	Status     engine.Status `json:"status,omitempty"`
	// CloseStatus is how the run closed, when Status is compensated.
	CloseStatus engine.Status   `json:"close_status,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	Failure     *engine.Failure `json:"failure,omitempty"`
}

var startCommand = &command{
	name: "start", args: "TYPE --queue QUEUE [--input JSON]", group: groupStart, action: performs(operator.ActStart),
	flags: func(fs *flag.FlagSet, o *opts) {
		fs.StringVar(&o.queue, "queue", "", "task queue whose workers run the workflow (required)")
		fs.StringVar(&o.id, "id", "", "workflow id (default TYPE-<random>)")
		defineInput(fs, o, "the workflow's input")
		fs.BoolVar(&o.wait, "wait", false, "wait for the run to close and print its result")
		fs.StringVar(&o.idReuse, "id-reuse", "", "when the id's previous run closed: allow_duplicate (default), allow_duplicate_failed_only or reject_duplicate")
	},
	streams: func(o *opts) bool { return o.wait },
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		if len(args) != 1 {
			return usagef("start needs the workflow TYPE, got %q", args)
		}
		typ := args[0]
		if o.queue == "" {
			return usagef("start needs --queue: the task queue whose workers run %s", typ)
		}
		p := operator.Params{Name: typ}
		if o.input != "" {
			raw, err := readJSON("--input", o.input, a.io.in)
			if err != nil {
				return err
			}
			p.Input = raw
		}
		id := o.id
		if id == "" {
			id = typ + "-" + uuid.NewString()[:8]
		}
		p.Start = engine.StartOptions{ID: id, TaskQueue: o.queue, IDReusePolicy: engine.IDReusePolicy(o.idReuse)}
		c, err := a.engine(ctx)
		if err != nil {
			return err
		}
		out, err := a.actions.Perform(ctx, operator.Request{Action: operator.ActStart, Params: p})
		run, _ := out.Data.(engine.Run)
		if err != nil {
			if run.RunID != "" && errors.Is(err, engine.ErrAlreadyStarted) {
				return fmt.Errorf("%w (see foreman show %s)", err, id)
			}
			return err
		}
		res := startResult{WorkflowID: run.WorkflowID, RunID: run.RunID}
		if !o.wait {
			return printStart(a, res)
		}
		a.infof("started %s (run %s); waiting for it to close", run.WorkflowID, run.RunID)
		var result json.RawMessage
		werr := c.GetResult(ctx, run.WorkflowID, run.RunID, &result)
		var wfErr *engine.WorkflowError
		switch {
		case werr == nil:
			res.Status, res.Result = engine.StatusCompleted, result
		case errors.As(werr, &wfErr):
			res.Status, res.Failure = wfErr.Status, wfErr.Failure
		default:
			return werr
		}
		// The status word is the one show and list print (a saga that
		// compensated says so, however it closed).
		if x, err := c.Describe(ctx, run.WorkflowID, run.RunID); err == nil {
			res.Status, res.CloseStatus = x.Status, x.CloseStatus
		}
		if err := printStart(a, res); err != nil {
			return err
		}
		return werr
	},
}

func printStart(a *app, r startResult) error {
	if a.out.format != formatTable {
		return a.out.value(r)
	}
	t := &table{header: []string{"WORKFLOW ID", "RUN ID"}}
	row := []string{r.WorkflowID, r.RunID}
	if r.Status != "" {
		t.header = append(t.header, "STATUS", "RESULT")
		out := compactJSON(r.Result)
		if r.Failure != nil {
			out = r.Failure.Error()
		}
		row = append(row, string(r.Status), out)
	}
	t.add(row...)
	return t.print(a.io.out)
}
