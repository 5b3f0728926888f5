package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
)

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
