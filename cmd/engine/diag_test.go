package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// syncBuffer collects a child process's output while a failing test may
// already read it (a bytes.Buffer read then races the copying goroutine).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// historyDump renders the histories of the given workflows for a failure
// message: each event's id, time and type, and the attributes of the events
// that tell why a run stopped (a rejected operator event, a failed task).
func historyDump(c *engine.Client, ids ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lines []string
	for _, id := range ids {
		events, err := c.History(ctx, id, "")
		lines = append(lines, fmt.Sprintf("%s (%v):", id, err))
		for _, e := range events {
			line := fmt.Sprintf("  %d %s %s", e.ID, e.Time.Format("15:04:05.000"), e.Type)
			switch e.Type {
			case engine.EventOperatorEventRejected, engine.EventWorkflowTaskFailed, engine.EventSignalReceived, engine.EventApprovalDecided:
				a, _ := json.Marshal(e.Attrs)
				line += " " + string(a)
			}
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}
