package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/charmbracelet/x/term"
	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
)

// stdio is the process's standard streams, and whether each is a terminal.
type stdio struct {
	in                    io.Reader
	out, err              io.Writer
	inTTY, outTTY, errTTY bool
}

func osStdio() stdio {
	return stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		inTTY:  term.IsTerminal(os.Stdin.Fd()),
		outTTY: term.IsTerminal(os.Stdout.Fd()),
		errTTY: term.IsTerminal(os.Stderr.Fd()),
	}
}

// app is one invocation: its globals, its streams, and the connection to
// the engine, opened on first use.
type app struct {
	g   globals
	io  stdio
	out *printer
	// confirmIn reads y/N answers; shared so several prompts read one stream.
	confirmIn *bufio.Reader

	// actions performs every write: the operator catalog over the engine,
	// behind operator.ReadOnly under --read-only.
	actions operator.Actions

	node    *jetstream.Node
	client  *engine.Client
	search  searcher
	batches *jetstream.Batches
	views   *jetstream.Views
	// onDenied ends the running command when NATS refuses a publish (set
	// by execute, called from the connection's goroutine).
	onDenied atomic.Pointer[func(error)]
}

func newApp(g globals, s stdio) *app {
	a := &app{g: g, io: s, out: &printer{w: s.out, format: g.output}}
	a.actions = operator.New(operator.Default, a.env)
	if g.creds != "" && jetstream.CredsRole(g.creds) == auth.Viewer {
		// Read-only is the viewer role; the flag is a convenience on top.
		a.g.readOnly, g.readOnly = true, true
	}
	if g.readOnly {
		a.actions = operator.ReadOnly(operator.Default, a.actions)
	}
	return a
}

// env is what actions run against, connecting first. The saved views are
// there once a command opened them (views, the console).
func (a *app) env(ctx context.Context) (operator.Env, error) {
	c, err := a.engine(ctx)
	if err != nil {
		return operator.Env{}, err
	}
	env := operator.Env{Client: c, Identity: c.Principal()}
	// Notification rules are the engine's: it checks the role and keeps them.
	env.Rules = operator.RemoteRules(a.node.Store.Request, c.Principal())
	if vs := a.views; vs != nil {
		env.SaveView = func(ctx context.Context, name, query string) error {
			return vs.Save(ctx, jetstream.View{Name: name, Query: query, SavedBy: a.g.identity})
		}
		env.DeleteView = vs.Delete
	}
	return env, nil
}

// infof writes a message for the operator to stderr.
func (a *app) infof(format string, args ...any) {
	fmt.Fprintf(a.io.err, format+"\n", args...)
}

// connect dials the engine's NATS server and opens its store (never
// creating anything: a wrong --nats fails clearly).
func (a *app) connect(ctx context.Context) error {
	if a.node != nil {
		return nil
	}
	node, err := jetstream.Dial(ctx, a.g.nats, jetstream.Options{
		Name: "foreman " + a.g.identity, CredsFile: a.g.creds,
		TLSCert: a.g.tlsCert, TLSKey: a.g.tlsKey, TLSCA: a.g.tlsCA,
	})
	if err != nil {
		if errors.Is(err, jetstream.ErrNoEngine) || errors.Is(err, nats.ErrAuthorization) {
			return err // it is running; the error says what is wrong
		}
		return fmt.Errorf("%w (is foreman-engine running? set --nats or FOREMAN_NATS)", err)
	}
	a.node = node
	jetstream.OnDenied(node.Conn, func(err error) {
		if fn := a.onDenied.Load(); fn != nil {
			(*fn)(err)
		}
	})
	a.client = engine.NewClient(node.Store, engine.ClientOptions{Identity: a.g.identity})
	return nil
}

// engine returns the engine client, connecting first.
func (a *app) engine(ctx context.Context) (*engine.Client, error) {
	if err := a.connect(ctx); err != nil {
		return nil, err
	}
	return a.client, nil
}

// searcher returns the search API client, connecting first.
func (a *app) searcher(ctx context.Context) (searcher, error) {
	if a.search != nil {
		return a.search, nil
	}
	if err := a.connect(ctx); err != nil {
		return nil, err
	}
	a.search = newSearcher(a.node.Store)
	return a.search, nil
}

// journal returns the batch journal, creating its bucket on first use.
func (a *app) journal(ctx context.Context) (*jetstream.Batches, error) {
	if a.batches != nil {
		return a.batches, nil
	}
	if err := a.connect(ctx); err != nil {
		return nil, err
	}
	b, err := jetstream.OpenBatches(ctx, a.node.Conn, 0)
	if err != nil {
		return nil, err
	}
	a.batches = b
	return b, nil
}

// savedViews returns the saved-views bucket, creating it on first use.
func (a *app) savedViews(ctx context.Context) (*jetstream.Views, error) {
	if a.views != nil {
		return a.views, nil
	}
	if err := a.connect(ctx); err != nil {
		return nil, err
	}
	v, err := jetstream.OpenViews(ctx, a.node.Conn, 0)
	if err != nil {
		return nil, err
	}
	a.views = v
	return v, nil
}

func (a *app) close() {
	if a.node != nil {
		a.node.Close()
	}
}

// confirm asks a yes/no question on the terminal; --yes answers yes.
// Without a terminal to ask on it refuses (dispatch already refused a
// destructive command without --yes; this is the backstop).
func (a *app) confirm(question string) error {
	if a.g.yes {
		return nil
	}
	if !a.io.inTTY {
		return refusedf("%s: pass --yes to confirm (standard input is not a terminal)", question)
	}
	fmt.Fprintf(a.io.err, "%s [y/N] ", question)
	if a.confirmIn == nil {
		a.confirmIn = bufio.NewReader(a.io.in)
	}
	line, err := a.confirmIn.ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(a.io.err)
		return refusedf("%s: not confirmed", question)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return refusedf("%s: not confirmed", question)
}
