// Command foreman operates Foreman workflow executions: run bare in a
// terminal it opens the console; otherwise every operator action is a
// scriptable subcommand (list, show, history, signal, approve, reset,
// compensate, batches over a query, …) with stable JSON output and exit
// codes. See `foreman help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/tui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], osStdio(), os.Getenv)
	stop()
	os.Exit(code)
}

// bare runs foreman without a command: the console on a terminal, help
// otherwise (a pipe or a file never gets a full-screen UI).
func bare(ctx context.Context, g globals, s stdio) int {
	if !s.outTTY || !s.inTTY {
		printHelp(s.out)
		return exitOK
	}
	a := newApp(g, s)
	defer a.close()
	err := func() error {
		cctx, cancel := context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
		b, err := a.backend(cctx)
		if err != nil {
			return err
		}
		return tui.Run(ctx, b, tui.Options{
			Identity: g.identity, ReadOnly: a.g.readOnly, NoColor: g.noColor, HistoryFile: searchHistoryFile(),
			Principal: jetstream.ConnUser(a.node.Conn), Context: g.context, Production: g.production,
		})
	}()
	if err != nil {
		fmt.Fprintf(s.err, "foreman: %v\n", err)
	}
	return exitCode(err)
}

// searchHistoryFile keeps the console's past searches across sessions.
func searchHistoryFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "foreman", "search-history")
}
