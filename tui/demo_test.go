package tui

import (
	"context"
	"os"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// TestDemo opens the console on the fixture fleet in the real terminal, for
// looking at it by hand (and in tmux): build the test binary and run
//
//	FOREMAN_TUI_DEMO=1 ./tui.test -test.run TestDemo
//
// It is skipped otherwise. The fleet "changes" every two seconds, to show
// live updates.
func TestDemo(t *testing.T) {
	if os.Getenv("FOREMAN_TUI_DEMO") == "" {
		t.Skip("FOREMAN_TUI_DEMO not set")
	}
	b := newFixtureBackend()
	if os.Getenv("FOREMAN_TUI_DEMO") == "big" {
		b.synthetic = 100_000
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
				b.mu.Lock()
				for i := range b.docs {
					if p := b.docs[i].Progress; p != nil && b.docs[i].Status == "running" {
						p.Done = (p.Done + 1) % (p.Total + 1)
					}
				}
				b.mu.Unlock()
				select {
				case b.updates <- struct{}{}:
				default:
				}
			}
		}
	}()
	start := time.Now()
	now := func() time.Time { return testClock.Add(time.Since(start)) }
	m := New(ctx, b, Options{Identity: "alice", ReadOnly: os.Getenv("FOREMAN_TUI_RO") != "", Now: now})
	if _, err := tea.NewProgram(m, tea.WithContext(ctx)).Run(); err != nil {
		t.Fatal(err)
	}
}
