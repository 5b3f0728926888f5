package main

import (
	"flag"
	"io"
	"strings"

	"github.com/foremanhq/foreman/operator"
)

// The actions on runs: what each does, whether it writes or is destructive
// and how it is undone in a batch live in the operator catalog; a command
// only reads its flags into operator.Params.

var signalCommand = &command{
	name: "signal", args: "WORKFLOW_ID NAME [--input JSON]", group: groupAct, action: performs(operator.ActSignal),
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		defineInput(fs, o, "the signal's payload")
		defineBatch(fs, o)
	},
	params: func(o *opts, params []string, stdin io.Reader) (operator.Params, error) {
		if len(params) != 1 {
			return operator.Params{}, usagef("signal needs the signal NAME after the workflow id")
		}
		p := operator.Params{Name: params[0]}
		if o.input != "" {
			var err error
			if p.Input, err = readJSON("--input", o.input, stdin); err != nil {
				return p, err
			}
		}
		return p, nil
	},
}

var approveCommand = decideCommand(operator.ActApprove)
var rejectCommand = decideCommand(operator.ActReject)

func decideCommand(name string) *command {
	return &command{
		name: name, args: "WORKFLOW_ID [APPROVAL]", group: groupAct, action: performs(name),
		flags: func(fs *flag.FlagSet, o *opts) {
			defineRun(fs, o)
			fs.StringVar(&o.comment, "comment", "", "comment recorded with the decision")
			defineBatch(fs, o)
		},
		params: func(o *opts, params []string, _ io.Reader) (operator.Params, error) {
			if len(params) > 1 {
				return operator.Params{}, usagef("%s takes at most one APPROVAL name after the workflow id, got %q", name, params)
			}
			p := operator.Params{Comment: o.comment}
			if len(params) == 1 {
				p.Approval = params[0]
			}
			return p, nil
		},
	}
}

var (
	cancelCommand    = reasonCommand("cancel", "WORKFLOW_ID [--reason TEXT]", operator.ActCancel, "why, recorded in history")
	terminateCommand = reasonCommand("terminate", "WORKFLOW_ID --reason TEXT", operator.ActTerminate, "why, recorded in history (required)")
)

// reasonCommand is an action on runs (one, or a batch) whose only
// parameter is a reason; the catalog says whether the reason is required.
func reasonCommand(name, args, action, reasonHelp string) *command {
	return &command{
		name: name, args: args, group: groupAct, action: performs(action),
		flags: func(fs *flag.FlagSet, o *opts) {
			defineRun(fs, o)
			fs.StringVar(&o.reason, "reason", "", reasonHelp)
			defineBatch(fs, o)
		},
		params: func(o *opts, params []string, _ io.Reader) (operator.Params, error) {
			if len(params) > 0 {
				return operator.Params{}, usagef("%s takes no argument after the workflow id, got %q (quote the --reason)", name, params)
			}
			return operator.Params{Reason: o.reason}, needReason(name, o.reason)
		},
	}
}

// needReason enforces Needs.ReasonRequired: the reason is recorded in
// history for whoever looks next.
func needReason(name, reason string) error {
	if a, ok := operator.Default.Lookup(name); ok && a.Needs.ReasonRequired && strings.TrimSpace(reason) == "" {
		return usagef("%s needs --reason: it is recorded in history for whoever looks next", name)
	}
	return nil
}
