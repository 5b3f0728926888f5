package jetstream

import "time"

// Stored is when the server stored the task (its message timestamp): the
// worker measures how long tasks wait in the queue from it (engine's
// worker announcements, schedule-to-start).
func (d *delivery) Stored() time.Time { return d.stored }
