// Command foreman operates Foreman workflow executions: run bare in a
// terminal it opens the console; otherwise every operator action is a
// scriptable subcommand (list, show, history, signal, approve, reset,
// compensate, batches over a query, …) with stable JSON output and exit
// codes. See `foreman help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
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
	_ = ctx
	_ = g
	printHelp(s.out)
	return exitOK
}
