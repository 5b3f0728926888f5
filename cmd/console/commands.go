package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand. Reads and start have run; the actions on
// existing runs have act, which dispatch applies to one run or, with -q, to
// every match of a query (a batch).
type command struct {
	name    string
	args    string // positional arguments, for help
	summary string
	group   string
	// write commands are refused under --read-only (in dispatch, nowhere else).
	write bool
	// writeIf, when set, decides write from the arguments (views save).
	writeIf func(args []string) bool
	// destructive commands confirm first (--yes when not interactive);
	// every batch does too.
	destructive bool
	flags       func(fs *flag.FlagSet, o *opts)
	run         func(ctx context.Context, a *app, o *opts, args []string) error
	act         func(o *opts, params []string, stdin io.Reader) (*action, error)
	// streams commands run without the default --timeout (--follow, --wait).
	streams func(o *opts) bool
}

// Help groups, in the order help lists them.
const (
	groupFind    = "Find runs"
	groupInspect = "Inspect a run (--run RUN_ID for an older run)"
	groupAct     = "Act on a run, or with -q QUERY on every match (a batch)"
	groupStart   = "Start a run"
	groupViews   = "Saved views (shared with the console)"
)

var groups = []string{groupFind, groupInspect, groupAct, groupStart, groupViews}

// commands is the registry: help, lookup and dispatch all read it.
var commands = []*command{
	listCommand, countCommand,
	showCommand, historyCommand, stackCommand, queryCommand,
	signalCommand, approveCommand, rejectCommand, cancelCommand, terminateCommand, resetCommand, compensateCommand,
	startCommand,
	viewsCommand,
}

// writes tells whether this invocation changes anything.
func (c *command) writes(args []string) bool {
	if c.writeIf != nil {
		return c.writeIf(args)
	}
	return c.write
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
				fmt.Fprintf(w, "  %-10s %-38s %s\n", c.name, c.args, c.summary)
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
  --creds, --tls-cert, --tls-key, --tls-ca FILE   secure NATS connections

JSON arguments (--input) are inline, @FILE, or - for standard input.
Data goes to standard output, messages to standard error.

Exit codes: 0 ok, 1 failure, 2 usage (bad flag, malformed JSON or query),
3 not found, 4 refused (read-only, not an approver, closed run, no such
approval, not confirmed), 5 timed out (or no worker answered).
`)
}

func commandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: foreman %s %s\n\n%s.\n", c.name, c.args, upperFirst(c.summary))
	if c.act != nil {
		fmt.Fprintf(w, "\nWith -q QUERY instead of WORKFLOW_ID, %s every run matching the query: a batch,\n"+
			"resumable with --batch-id after an interruption (it never acts twice on one run).\n", c.name)
	}
	if c.write {
		fmt.Fprintln(w, "\nRecorded in the run's history with your --identity; refused under --read-only.")
	}
	if c.destructive {
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
