package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/foremanhq/foreman/operator"
)

// command is one subcommand. Reads, start and views have run; the actions
// on existing runs have params, and dispatch applies their operator catalog
// action to one run or, with -q, to every match of a query (a batch).
type command struct {
	name    string
	args    string // positional arguments, for help
	summary string // default: the catalog action's
	group   string
	// action names the operator catalog entry this invocation performs
	// ("" for a read): whether it writes (refused under --read-only, by
	// operator.ReadOnly) and whether it is destructive come from there.
	action func(o *opts, args []string) string
	flags  func(fs *flag.FlagSet, o *opts)
	run    func(ctx context.Context, a *app, o *opts, args []string) error
	// params reads the action's parameters from the flags and the
	// arguments after the workflow id.
	params func(o *opts, params []string, stdin io.Reader) (operator.Params, error)
	// streams commands run without the default --timeout (--follow, --wait).
	streams func(o *opts) bool
}

// performs names the catalog action every invocation of a command performs.
func performs(name string) func(*opts, []string) string {
	return func(*opts, []string) string { return name }
}

// entry is the catalog action of this invocation, or nil for a read.
func (c *command) entry(o *opts, args []string) *operator.Action {
	if c.action == nil {
		return nil
	}
	a, _ := operator.Default.Lookup(c.action(o, args))
	return a
}

// declared is the command's catalog action as help describes it (the
// invocation without flags).
func (c *command) declared() *operator.Action { return c.entry(&opts{}, nil) }

func (c *command) summaryText() string {
	if a := c.declared(); c.summary == "" && a != nil {
		return a.Summary
	}
	return c.summary
}

// Help groups, in the order help lists them.
const (
	groupFind    = "Find runs"
	groupInspect = "Inspect a run (--run RUN_ID for an older run)"
	groupAct     = "Act on a run, or with -q QUERY on every match (a batch)"
	groupStart   = "Start a run, or import exported ones"
	groupViews   = "Saved views (shared with the console)"
	groupConn    = "Connection profiles (--context NAME, or the one selected by use)"
	groupHealth  = "Engine health"
	// groupSchedules: cmd_schedule.go
	groupSchedules = "Schedules (start workflows on a timetable)"
	groupNotify    = "Notification rules"
)

var groups = []string{groupFind, groupInspect, groupAct, groupStart, groupViews, groupConn, groupHealth, groupSchedules, groupNotify}

// commands is the registry: help, lookup and dispatch all read it.
var commands = []*command{
	listCommand, countCommand, auditCommand,
	showCommand, historyCommand, stackCommand, queryCommand, exportCommand,
	signalCommand, approveCommand, rejectCommand, cancelCommand, terminateCommand, resetCommand, compensateCommand,
	startCommand, importCommand,
	viewsCommand,
	contextCmd,
	queuesCommand,
	updateCommand,
	scheduleCommand,
	stuckCommand, notifyCommand,
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `foreman: operate Foreman workflow executions.

Usage: foreman [global flags] <command> [arguments] [flags]
       foreman help <command>

Run bare in a terminal, foreman opens the console.
`)
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g)
		for _, c := range commands {
			if c.group == g {
				fmt.Fprintf(w, "  %-10s %-38s %s\n", c.name, c.args, c.summaryText())
			}
		}
	}
	fmt.Fprint(w, `
Global flags (before or after the command):
  --nats URL          NATS URL of the engine (env FOREMAN_NATS; default `+DefaultNATS+`)
  --identity NAME     who you act as, recorded in history (env FOREMAN_IDENTITY; default the OS user)
  --read-only         refuse every write (env FOREMAN_READ_ONLY=1)
  -o, --output FMT    table (default), json or jsonl
  --timeout D         give up after D (default 30s; --follow, --wait and batches: none, per batch item 30s)
  -y, --yes           confirm destructive actions; required when standard input is not a terminal
  --no-color          console without colours (also NO_COLOR)
  --creds, --tls-cert, --tls-key, --tls-ca FILE   secure NATS connections (default
                      credentials: the ones the engine on this machine left for --nats)
  --context NAME      use a saved connection profile (env FOREMAN_CONTEXT; default the
                      one chosen by foreman context use, unless --nats/FOREMAN_NATS is set)

JSON arguments (--input) are inline, @FILE, or - for standard input.
Data goes to standard output, messages to standard error.

Exit codes: 0 ok, 1 failure, 2 usage (bad flag, malformed JSON or query),
3 not found, 4 refused (read-only, not an approver, closed run, no such
approval, not confirmed), 5 timed out (or no worker answered).
`)
}

func commandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: foreman %s %s\n\n%s.\n", c.name, c.args, upperFirst(c.summaryText()))
	a := c.declared()
	if c.params != nil {
		fmt.Fprintf(w, "\nWith -q QUERY instead of WORKFLOW_ID, %s every run matching the query: a batch,\n"+
			"resumable with --batch-id after an interruption (it never acts twice on one run).\n", c.name)
	}
	if a != nil && a.Write {
		fmt.Fprintln(w, "\nRecorded in the run's history with your --identity; refused under --read-only.")
	}
	if a != nil && a.Destructive {
		fmt.Fprintln(w, "Destructive: asks for confirmation, or needs --yes when standard input is not a terminal.")
	}
	printDefaults(w, fs)
	fmt.Fprintln(w, "\nGlobal flags: see foreman help.")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
