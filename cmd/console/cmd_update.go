package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
)

var updateCommand = &command{
	name: "update", args: "WORKFLOW_ID NAME [--input JSON] [--wait-for accepted|completed] [--update-id ID]", group: groupAct,
	action: performs(operator.ActUpdate),
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		defineInput(fs, o, "the update's input")
		fs.StringVar(&o.waitFor, "wait-for", string(engine.WaitForCompleted), "wait until the update is accepted or completed")
		fs.StringVar(&o.updateID, "update-id", "", "the update's id: a repeated id is answered with the first outcome (default: a new one)")
		defineBatch(fs, o)
	},
	params: func(o *opts, params []string, stdin io.Reader) (operator.Params, error) {
		if len(params) != 1 {
			return operator.Params{}, usagef("update needs the update NAME after the workflow id")
		}
		wait := engine.UpdateStage(o.waitFor)
		if wait != engine.WaitForAccepted && wait != engine.WaitForCompleted {
			return operator.Params{}, usagef("--wait-for %q: want accepted or completed", o.waitFor)
		}
		p := operator.Params{Name: params[0], UpdateID: o.updateID, UpdateWait: wait}
		if p.UpdateID == "" {
			// one id for every run of a batch: deduplication is per run,
			// and a resumed batch sends the same request again
			p.UpdateID = uuid.NewString()
		}
		if o.input != "" {
			var err error
			if p.Input, err = readJSON("--input", o.input, stdin); err != nil {
				return p, err
			}
		}
		return p, nil
	},
}

// printUpdate prints where an update stands and its result.
func printUpdate(w io.Writer, r engine.UpdateResult) error {
	fmt.Fprintf(w, "Update %s %s on %s (run %s): %s\n", r.Name, r.UpdateID, r.WorkflowID, r.RunID, r.Stage)
	switch {
	case r.Failure != nil:
		_, err := fmt.Fprintf(w, "Failed: %s\n", r.Failure.Message)
		return err
	case len(r.Result) > 0:
		var v any
		if json.Unmarshal(r.Result, &v) == nil {
			b, _ := json.MarshalIndent(v, "", "  ")
			_, err := fmt.Fprintf(w, "%s\n", b)
			return err
		}
	}
	return nil
}
