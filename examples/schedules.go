package examples

import (
	"context"
	"encoding/json"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// HourlyIngestion is a schedule that ingests the partner feed at five
// past every hour, Paris time: a durable object in JetStream that every
// engine fires, each fire exactly once, not a cron line on one host.
// While one ingestion still runs, the next fire waits for it (buffer one);
// fires missed while the engines were down start if at most ten minutes
// late.
func HourlyIngestion() engine.Schedule {
	return engine.Schedule{
		ID: "ingest-hourly",
		Spec: engine.ScheduleSpec{
			Cron:     []string{"5 * * * *"},
			TimeZone: "Europe/Paris",
			Jitter:   engine.Duration(30 * time.Second),
		},
		Action: engine.ScheduleAction{
			WorkflowType: "DocumentIngestion",
			TaskQueue:    IngestQueue,
			Input:        json.RawMessage(`{"doc_id":"partner-feed","pages":4}`),
			WorkflowID:   "feed-{time}",
		},
		Overlap:       engine.OverlapBufferOne,
		CatchupWindow: engine.Duration(10 * time.Minute),
	}
}

// CreateHourlyIngestion creates the schedule; every run it starts carries
// scheduled_by:ingest-hourly and its fire's scheduled_start_time.
func CreateHourlyIngestion(ctx context.Context, c *engine.Client) error {
	return c.Schedules().Create(ctx, HourlyIngestion())
}
