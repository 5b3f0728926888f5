package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/operator"
)

// defaultTimeout bounds a command (or each batch item) without --timeout.
const defaultTimeout = 30 * time.Second

// run is the whole CLI: it parses, dispatches and returns the exit code.
func run(ctx context.Context, args []string, s stdio, getenv func(string) string) int {
	g := defaultGlobals(getenv)
	if !contextCommand(g, args) {
		if err := g.applyContext(args, getenv); err != nil {
			fmt.Fprintf(s.err, "foreman: %v\n", err)
			return exitCode(err)
		}
	}
	root := newFlagSet("foreman", io.Discard)
	g.register(root)
	root.Usage = func() {}
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(s.out)
			return exitOK
		}
		fmt.Fprintf(s.err, "foreman: %v\nRun 'foreman help' for usage.\n", err)
		return exitUsage
	}
	rest := root.Args()
	if len(rest) == 0 {
		return bare(ctx, g, s)
	}
	name := rest[0]
	if name == "help" {
		return help(s, rest[1:])
	}
	cmd, after := lookupArgs(rest)
	if cmd == nil {
		fmt.Fprintf(s.err, "foreman: unknown command %q\nRun 'foreman help' for the list of commands.\n", name)
		return exitUsage
	}
	return dispatch(ctx, cmd, g, after, s)
}

func help(s stdio, args []string) int {
	if len(args) == 0 {
		printHelp(s.out)
		return exitOK
	}
	cmd, _ := lookupArgs(args)
	if cmd == nil {
		fmt.Fprintf(s.err, "foreman help: unknown command %q\n", args[0])
		return exitUsage
	}
	commandHelp(s.out, cmd, commandFlags(cmd, &globals{}, &opts{}, io.Discard))
	return exitOK
}

func commandFlags(cmd *command, g *globals, o *opts, w io.Writer) *flag.FlagSet {
	fs := newFlagSet("foreman "+cmd.name, w)
	g.register(fs)
	if cmd.flags != nil {
		cmd.flags(fs, o)
	}
	return fs
}

// dispatch parses a command's flags, applies the rules every command
// shares (read-only, confirmation, timeout), runs it and maps its error to
// an exit code.
func dispatch(ctx context.Context, cmd *command, g globals, args []string, s stdio) int {
	o := &opts{}
	// The flag package's own message does not say which command it is
	// about: it is silenced, and the error printed here with the command.
	fs := commandFlags(cmd, &g, o, io.Discard)
	fs.Usage = func() {}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		commandHelp(s.out, cmd, fs)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(s.err, "foreman %s: %v\nRun 'foreman help %s' for usage.\n", cmd.name, err, cmd.name)
		return exitUsage
	}
	if err := g.validate(); err != nil {
		return report(s, cmd, err)
	}
	a := newApp(g, s)
	defer a.close()
	return report(s, cmd, a.execute(ctx, cmd, o, pos))
}

// execute runs a command. Every write goes through a.actions, behind
// operator.ReadOnly under --read-only; asking it first (Check) refuses a
// write before any prompt, connection or journal.
func (a *app) execute(ctx context.Context, cmd *command, o *opts, pos []string) error {
	batch := cmd.params != nil && o.query != ""
	act := cmd.entry(o, pos)
	if act != nil {
		if err := a.actions.Check(operator.Request{Action: act.Name, Params: operator.Params{DryRun: o.dryRun}}); err != nil {
			return err
		}
	}
	if ((act != nil && act.Destructive) || batch) && !o.dryRun && !a.g.yes && !a.io.inTTY {
		what := cmd.name
		if batch {
			what = "a batch " + cmd.name
		}
		return refusedf("%s is destructive: pass --yes to confirm (standard input is not a terminal)", what)
	}
	if !batch {
		timeout := a.g.timeout
		if timeout == 0 && (cmd.streams == nil || !cmd.streams(o)) {
			timeout = defaultTimeout
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
	}
	if o.run != "" && !batch && len(pos) > 0 {
		// --run takes the short id the console shows: a unique prefix.
		run, err := a.resolveRun(ctx, pos[0], o.run)
		if err != nil {
			return err
		}
		o.run = run
	}
	// A publish the server refuses (the credentials' role) ends the
	// command at once, saying so, instead of after its timeout.
	ctx, deny := context.WithCancelCause(ctx)
	defer deny(nil)
	a.onDenied.Store((*func(error))(&deny))
	var err error
	switch {
	case cmd.params == nil:
		err = cmd.run(ctx, a, o, pos)
	case batch:
		err = a.runBatch(ctx, cmd, o, pos)
	default:
		err = a.runSingle(ctx, cmd, o, pos)
	}
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, nats.ErrPermissionViolation) {
		return refusedf("%v", cause)
	}
	return err
}

// report prints err for the operator and returns its exit code.
func report(s stdio, cmd *command, err error) int {
	code := exitCode(err)
	if err == nil {
		return code
	}
	msg := err.Error()
	if code == exitTimeout && errors.Is(err, context.DeadlineExceeded) {
		msg += " (timed out; raise --timeout)"
	}
	fmt.Fprintf(s.err, "foreman %s: %s\n", cmd.name, msg)
	return code
}

// contextCommand reports whether args run `foreman context`, which edits
// the profiles and so is never run under one, or help, which needs none.
func contextCommand(g globals, args []string) bool {
	fs := newFlagSet("foreman", io.Discard)
	g.register(fs)
	return fs.Parse(args) == nil && fs.NArg() > 0 && (fs.Arg(0) == contextCmd.name || fs.Arg(0) == "help")
}
