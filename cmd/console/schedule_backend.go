package main

import (
	"context"

	"github.com/foremanhq/foreman/engine"
)

// Schedules lists the schedules for the console's :schedules view
// (tui.ScheduleLister).
func (b *backend) Schedules(ctx context.Context) ([]*engine.ScheduleDescription, error) {
	return b.c.Schedules().List(ctx)
}
