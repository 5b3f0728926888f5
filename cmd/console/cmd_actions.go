package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
)

var signalCommand = &command{
	name: "signal", args: "WORKFLOW_ID NAME [--input JSON]", group: groupAct, write: true,
	summary: "deliver a named signal with a JSON payload",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		defineInput(fs, o, "the signal's payload")
		defineBatch(fs, o)
	},
	act: func(o *opts, params []string, stdin io.Reader) (*action, error) {
		if len(params) != 1 {
			return nil, usagef("signal needs the signal NAME after the workflow id")
		}
		name := params[0]
		var payload json.RawMessage
		if o.input != "" {
			var err error
			if payload, err = readJSON("--input", o.input, stdin); err != nil {
				return nil, err
			}
		}
		return &action{
			verb: "signal", params: map[string]any{"name": name, "payload": payload},
			do: func(ctx context.Context, c *engine.Client, t target) (outcome, error) {
				var p any
				if payload != nil {
					p = payload
				}
				return outcome{Detail: "signaled " + name}, c.Signal(ctx, t.WorkflowID, t.RunID, name, p)
			},
			took: tookBy(func(a *engine.SignalReceived, id string) bool { return a.Name == name && a.Identity == id }),
		}, nil
	},
}

var approveCommand = decideCommand(true)
var rejectCommand = decideCommand(false)

func decideCommand(approved bool) *command {
	name, verb, summary := "approve", "approved", "approve a pending approval (the only one, or APPROVAL)"
	if !approved {
		name, verb, summary = "reject", "rejected", "reject a pending approval (the only one, or APPROVAL)"
	}
	return &command{
		name: name, args: "WORKFLOW_ID [APPROVAL]", group: groupAct, write: true, summary: summary,
		flags: func(fs *flag.FlagSet, o *opts) {
			defineRun(fs, o)
			fs.StringVar(&o.comment, "comment", "", "comment recorded with the decision")
			defineBatch(fs, o)
		},
		act: func(o *opts, params []string, _ io.Reader) (*action, error) {
			if len(params) > 1 {
				return nil, usagef("%s takes at most one APPROVAL name after the workflow id, got %q", name, params)
			}
			approval := ""
			if len(params) == 1 {
				approval = params[0]
			}
			comment := o.comment
			return &action{
				verb: name, params: map[string]any{"approval": approval, "comment": comment},
				do: func(ctx context.Context, c *engine.Client, t target) (outcome, error) {
					which, runID := approval, t.RunID
					if which == "" {
						x, err := c.Describe(ctx, t.WorkflowID, t.RunID)
						if err != nil {
							return outcome{}, err
						}
						if which, err = onlyApproval(x); err != nil {
							return outcome{}, err
						}
						runID = x.RunID
					}
					err := c.Decide(ctx, t.WorkflowID, runID, which, approved, comment)
					return outcome{RunID: runID, Detail: verb + " " + which}, err
				},
				took: tookBy(func(a *engine.ApprovalDecided, id string) bool {
					return a.By == id && a.Approved == approved && (approval == "" || a.Name == approval)
				}),
			}, nil
		},
	}
}

// onlyApproval names the run's one pending approval.
func onlyApproval(x *engine.Execution) (string, error) {
	switch len(x.Approvals) {
	case 0:
		if x.Status != engine.StatusRunning {
			return "", fmt.Errorf("%w: %q run %s is %s", engine.ErrRunClosed, x.WorkflowID, x.RunID, x.Status)
		}
		return "", fmt.Errorf("%w: %q has no pending approval", engine.ErrNoSuchApproval, x.WorkflowID)
	case 1:
		return x.Approvals[0].Name, nil
	}
	names := make([]string, len(x.Approvals))
	for i, p := range x.Approvals {
		names[i] = p.Name
	}
	return "", usagef("%q has %d pending approvals (%s): name the one to decide", x.WorkflowID, len(names), strings.Join(names, ", "))
}

var cancelCommand = &command{
	name: "cancel", args: "WORKFLOW_ID [--reason TEXT]", group: groupAct, write: true,
	summary: "ask a run to cancel (its code decides how to end)",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		fs.StringVar(&o.reason, "reason", "", "why, recorded in history")
		defineBatch(fs, o)
	},
	act: func(o *opts, params []string, _ io.Reader) (*action, error) {
		if len(params) > 0 {
			return nil, usagef("cancel takes no argument after the workflow id, got %q (quote a --reason)", params)
		}
		reason := o.reason
		return &action{
			verb: "cancel", params: map[string]any{"reason": reason},
			do: func(ctx context.Context, c *engine.Client, t target) (outcome, error) {
				return outcome{Detail: "cancel requested"}, c.Cancel(ctx, t.WorkflowID, t.RunID, reason)
			},
			took: tookBy(func(a *engine.WorkflowCancelRequested, id string) bool { return a.Identity == id }),
		}, nil
	},
}

var terminateCommand = &command{
	name: "terminate", args: "WORKFLOW_ID --reason TEXT", group: groupAct, write: true, destructive: true,
	summary: "close a run at once; no workflow code runs",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		fs.StringVar(&o.reason, "reason", "", "why, recorded in history (required)")
		defineBatch(fs, o)
	},
	act: func(o *opts, params []string, _ io.Reader) (*action, error) {
		if len(params) > 0 {
			return nil, usagef("terminate takes no argument after the workflow id, got %q (quote the --reason)", params)
		}
		reason := o.reason
		if strings.TrimSpace(reason) == "" {
			return nil, usagef("terminate needs --reason: it is recorded in history for whoever looks next")
		}
		return &action{
			verb: "terminate", params: map[string]any{"reason": reason},
			do: func(ctx context.Context, c *engine.Client, t target) (outcome, error) {
				return outcome{Detail: "terminated"}, c.Terminate(ctx, t.WorkflowID, t.RunID, reason)
			},
			took: tookBy(func(a *engine.WorkflowTerminated, id string) bool { return a.Identity == id }),
		}, nil
	},
}

// tookBy builds an action's took check from a predicate on one event type
// of the run's own history.
func tookBy[A any](match func(a *A, identity string) bool) func(context.Context, *engine.Client, target, string, time.Time) (bool, error) {
	return func(ctx context.Context, c *engine.Client, t target, identity string, since time.Time) (bool, error) {
		events, err := c.History(ctx, t.WorkflowID, t.RunID)
		if err != nil {
			return false, err
		}
		for _, e := range events {
			if a, ok := e.Attrs.(*A); ok && !e.Time.Before(since) && match(a, identity) {
				return true, nil
			}
		}
		return false, nil
	}
}
