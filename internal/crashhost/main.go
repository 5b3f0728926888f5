// Command crashhost is the process the crash test kills: one process that
// hosts everything — the embedded JetStream server, the engine's services
// (dispatcher, timers, start sweeper) and a worker on queue "crash" running
// flow.CrashFlow.
//
//	crashhost -data DIR -listen 127.0.0.1:PORT [-sync interval|always] [-ackwait 30s]
//
// It prints "crashhost ready <url>" on stdout once the worker polls, then
// runs until killed. SIGTERM or SIGINT stop it cleanly (worker drained,
// services stopped, server shut down); SIGKILL is what the test uses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/crashtest/flow"
	"github.com/foremanhq/foreman/jetstream"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashhost:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		data     = flag.String("data", "", "JetStream data directory (required)")
		listen   = flag.String("listen", "127.0.0.1:4222", "client address of the embedded server, host:port")
		sync     = flag.String("sync", jetstream.SyncInterval, `durability: "interval" or "always"`)
		ackWait  = flag.Duration("ackwait", jetstream.DefaultAckWait, "redelivery delay of unacknowledged tasks")
		logLevel = flag.String("log", "warn", "log level: debug, info, warn or error")
	)
	flag.Parse()
	if *data == "" {
		return errors.New("-data is required")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	opts := jetstream.Options{DataDir: *data, Listen: *listen, Sync: *sync, AckWait: *ackWait, Name: "crashhost", Logger: log}
	started := time.Now()
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	node, err := jetstream.Boot(octx, opts, log)
	if err != nil {
		return err
	}
	defer node.Close()
	store := node.Store

	services := make(chan error, 1)
	go func() { services <- engine.RunServices(ctx, store, log) }()

	w := engine.NewWorker(store, flow.Queue, engine.WorkerOptions{Identity: fmt.Sprintf("crashhost:%d", os.Getpid()), Logger: log, ShutdownTimeout: 5 * time.Second})
	if err := flow.Register(w); err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("crashhost ready %s pid %d in %s\n", node.URL(), os.Getpid(), time.Since(started).Round(time.Millisecond))

	var serr error
	servicesDone := false
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case serr = <-services:
		servicesDone = true
		log.Error("engine services stopped", "err", serr)
	}
	stop()
	w.Stop()
	if !servicesDone {
		serr = <-services
	}
	if serr != nil && !errors.Is(serr, context.Canceled) {
		return fmt.Errorf("engine services: %w", serr)
	}
	return nil
}
