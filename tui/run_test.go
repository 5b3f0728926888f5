package tui

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// Rendering through a real terminal is covered by the tmux end-to-end test;
// these check that Run starts and stops as the CLI expects.

func TestRunQuitsOnQ(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), newFixtureBackend(), Options{Input: strings.NewReader("q"), Output: io.Discard})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after q")
	}
}

func TestRunEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe() // input that never ends
	defer w.Close()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, newFixtureBackend(), Options{Input: r, Output: io.Discard}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v when its context ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

func TestRunNeedsABackend(t *testing.T) {
	if err := Run(context.Background(), nil, Options{}); err == nil || !strings.Contains(err.Error(), "backend") {
		t.Fatalf("got %v", err)
	}
}
