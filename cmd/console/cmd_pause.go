package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
)

// Pausing runs and operating on their pending activities (issue 18): the
// commands read their flags into operator.Params; the catalog's entries
// (operator/pause.go) do the rest, one run or a batch (-q).

var (
	pauseCommand   = reasonCommand("pause", "WORKFLOW_ID [--reason TEXT]", operator.ActPause, "why, recorded in history")
	unpauseCommand = reasonCommand("unpause", "WORKFLOW_ID [--reason TEXT]", operator.ActUnpause, "why, recorded in history")

	activityRetryCommand   = activityCommand(engine.ActivityOpRetry, operator.ActActivityRetry, "", nil)
	activityPauseCommand   = activityCommand(engine.ActivityOpPause, operator.ActActivityPause, "", nil)
	activityUnpauseCommand = activityCommand(engine.ActivityOpUnpause, operator.ActActivityUnpause, "", nil)
	activityResetCommand   = activityCommand(engine.ActivityOpReset, operator.ActActivityReset, "", nil)
	activityUpdateCommand  = activityCommand(engine.ActivityOpUpdate, operator.ActActivityUpdateOptions,
		" [--start-to-close D] [--max-attempts N] …", defineActivityOptions)
	activityCompleteCommand = activityCommand(engine.ActivityOpComplete, operator.ActActivityComplete, " --result JSON",
		func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.input, "result", "", "the activity's result: JSON inline, @FILE, or - for standard input")
		})
	activityFailCommand = activityCommand(engine.ActivityOpFail, operator.ActActivityFail, " [--error-type T] [--message M]",
		func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.act.errType, "error-type", "OperatorFailed", "the error's type, as the workflow sees it")
			fs.StringVar(&o.act.message, "message", "", "the error's message (default the --reason)")
		})
)

// activityFlags are the flags of the activity commands.
type activityFlags struct {
	name             string // --activity
	errType, message string
	opts             engine.ActivityOptionsUpdate
	retry            engine.RetryPolicy
}

func defineActivityOptions(fs *flag.FlagSet, o *opts) {
	u, r := &o.act.opts, &o.act.retry
	fs.DurationVar(&u.StartToCloseTimeout, "start-to-close", 0, "new start-to-close timeout of each attempt")
	fs.DurationVar(&u.ScheduleToCloseTimeout, "schedule-to-close", 0, "new schedule-to-close timeout")
	fs.DurationVar(&u.ScheduleToStartTimeout, "schedule-to-start", 0, "new schedule-to-start timeout")
	fs.DurationVar(&u.HeartbeatTimeout, "heartbeat", 0, "new heartbeat timeout")
	fs.IntVar(&r.MaximumAttempts, "max-attempts", 0, "retry policy: at most N attempts (-1: unlimited)")
	fs.DurationVar(&r.InitialInterval, "initial-interval", 0, "retry policy: first backoff")
	fs.DurationVar(&r.MaximumInterval, "max-interval", 0, "retry policy: longest backoff")
	fs.Float64Var(&r.BackoffCoefficient, "backoff", 0, "retry policy: backoff coefficient")
	fs.BoolVar(&r.PauseOnExhaustion, "pause-on-exhaustion", false, "retry policy: pause the run (dead letter) when attempts run out")
}

// activityCommand is `foreman activity OP`: the operation on a run's
// pending activities that --activity selects.
func activityCommand(op, action, args string, extra func(*flag.FlagSet, *opts)) *command {
	name := "activity " + op
	return &command{
		name: name, args: "WORKFLOW_ID [--activity NAME|SEQ]" + args, group: groupAct, action: performs(action),
		flags: func(fs *flag.FlagSet, o *opts) {
			defineRun(fs, o)
			fs.StringVar(&o.act.name, "activity", "", "the pending activity: its type or seq (default the run's only one)")
			fs.StringVar(&o.reason, "reason", "", "why, recorded in history")
			if extra != nil {
				extra(fs, o)
			}
			defineBatch(fs, o)
		},
		params: func(o *opts, params []string, stdin io.Reader) (operator.Params, error) {
			if len(params) > 0 {
				return operator.Params{}, usagef("%s takes no argument after the workflow id, got %q (use --activity)", name, params)
			}
			p := operator.Params{Activity: o.act.name, Reason: o.reason}
			switch op {
			case engine.ActivityOpComplete:
				if o.input == "" {
					return p, usagef("%s needs --result JSON: the result the workflow receives", name)
				}
				var err error
				if p.Input, err = readJSON("--result", o.input, stdin); err != nil {
					return p, err
				}
			case engine.ActivityOpFail:
				msg := o.act.message
				if msg == "" {
					msg = o.reason
				}
				p.Failure = &engine.Failure{Type: o.act.errType, Message: msg}
			case engine.ActivityOpUpdate:
				u := o.act.opts
				if r := o.act.retry; r.MaximumAttempts != 0 || r.InitialInterval != 0 || r.MaximumInterval != 0 || r.BackoffCoefficient != 0 || r.PauseOnExhaustion {
					u.RetryPolicy = &r
				}
				if u == (engine.ActivityOptionsUpdate{}) {
					return p, usagef("%s needs at least one option to change (see foreman help %s)", name, name)
				}
				if err := checkDurations(u); err != nil {
					return p, err
				}
				p.ActivityOptions = &u
			}
			return p, nil
		},
	}
}

func checkDurations(u engine.ActivityOptionsUpdate) error {
	for flag, d := range map[string]time.Duration{"--start-to-close": u.StartToCloseTimeout, "--schedule-to-close": u.ScheduleToCloseTimeout,
		"--schedule-to-start": u.ScheduleToStartTimeout, "--heartbeat": u.HeartbeatTimeout} {
		if d < 0 {
			return usagef("%s %s: must be positive", flag, d)
		}
	}
	return nil
}

// pausedText is how show prints a paused run's status: who, when, why.
func pausedText(p *engine.PauseInfo) string {
	if p.DeadLetter {
		s := fmt.Sprintf("paused: dead letter since %s, %s (seq %d) ran out of attempts", when(p.At), p.ActivityType, p.Seq)
		if p.Failure != nil {
			s += ": " + clip(p.Failure.Error(), 120)
		}
		return s
	}
	s := fmt.Sprintf("paused by %s since %s", p.By, when(p.At))
	if p.Reason != "" {
		s += ": " + p.Reason
	}
	return s
}

// activityState notes a pending activity's pause state (show's NEXT
// ATTEMPT column), or "".
func activityState(p engine.PendingActivity) string {
	switch {
	case p.DeadLettered:
		return "dead letter (foreman activity retry)"
	case p.Paused:
		return "paused"
	case p.Held:
		return "held until the run resumes"
	}
	return ""
}
