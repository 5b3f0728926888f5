// Command pulseload (not committed) starts runs at a fixed rate against a
// running foreman-engine, with its own worker, to measure the engine's CPU.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

func Flow(ctx engine.Context, n int) (int, error) {
	var out int
	err := engine.ExecuteActivity(ctx, Step, n).Get(ctx, &out)
	return out, err
}

func Step(ctx context.Context, n int) (int, error) { return n + 1, nil }

func main() {
	url := flag.String("nats", "", "")
	rate := flag.Int("rate", 100, "runs per second")
	dur := flag.Duration("for", time.Minute, "")
	poll := flag.Bool("poll", false, "only ask for the pulse once a second (what :pulse does)")
	flag.Parse()
	ctx := context.Background()
	nc, err := jetstream.Connect(ctx, *url, jetstream.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st, err := jetstream.OpenExisting(ctx, nc, jetstream.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *poll {
		api := searchapi.NewClient(st)
		end := time.Now().Add(*dur)
		for time.Now().Before(end) {
			if _, err := api.Pulse(ctx, searchapi.PulseRequest{Seconds: 240}); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			time.Sleep(time.Second)
		}
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	w := engine.NewWorker(st, "load", engine.WorkerOptions{Logger: log})
	_ = w.RegisterWorkflow(Flow)
	_ = w.RegisterActivity(Step)
	if err := w.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c := engine.NewClient(st, engine.ClientOptions{Identity: "load"})
	t := time.NewTicker(time.Second / time.Duration(*rate))
	end := time.Now().Add(*dur)
	prefix := fmt.Sprint(time.Now().UnixNano())
	n := 0
	for time.Now().Before(end) {
		<-t.C
		n++
		go func(i int) {
			_, _ = c.Start(ctx, engine.StartOptions{ID: fmt.Sprintf("load-%s-%d", prefix, i), TaskQueue: "load"}, Flow, i)
		}(n)
	}
	w.Stop()
	fmt.Println("started", n)
}
