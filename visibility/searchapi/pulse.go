package searchapi

import (
	"context"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// SubjectPulse is the engine's health figures (the console's :pulse and
// :queues): served by foreman-engine beside the search API, computed at
// most once a second however many consoles ask. Under fm.api.vis so that
// every role that may search may read it (AUTH-CONTRACT §3).
const SubjectPulse = "fm.api.vis.pulse"

// PulseRequest asks for the figures; Seconds is how long the per-second
// series are (default 120, at most 299).
type PulseRequest struct {
	Seconds int `json:"seconds,omitempty"`
}

// Pulse is the engine's health on one screen. Rates and latencies come
// from the history the index applied (event times); backlogs from the task
// queues; workers from their announcements.
type Pulse struct {
	At time.Time `json:"at"`
	// Per-second counts, oldest first, the last ending at SeriesEnd:
	// runs started, completed, failed, and activity attempts failed.
	Started          []uint32  `json:"started"`
	Completed        []uint32  `json:"completed"`
	Failed           []uint32  `json:"failed"`
	ActivityFailures []uint32  `json:"activity_failures"`
	SeriesEnd        time.Time `json:"series_end"`
	// Latencies over the last minute: run start to close (closed runs),
	// and how long activity and workflow tasks waited in their queue
	// (stored to taken by a worker, first deliveries).
	RunDuration             Latency       `json:"run_duration"`
	ScheduleToStart         Latency       `json:"schedule_to_start"`
	WorkflowScheduleToStart Latency       `json:"workflow_schedule_to_start"`
	Queues                  []QueueHealth `json:"queues"`
	Workers                 int           `json:"workers"`
	IndexLag                Lag           `json:"index_lag"`
	// Stuck counts running runs without a history event for StuckAfter,
	// by cause (their waiting_on, or no_progress), and under no_worker the
	// running runs on queues no worker polls, however young; refreshed
	// every few seconds.
	Stuck      []Group `json:"stuck,omitempty"`
	StuckAfter string  `json:"stuck_after"`
	// Errors names figures that could not be read this time.
	Errors []string `json:"errors,omitempty"`
}

// Latency is a latency's quantiles over a span.
type Latency struct {
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	Count uint64  `json:"count"`
}

// QueueHealth is one task queue: the workers polling it, the tasks it
// holds, the running runs on it.
type QueueHealth struct {
	Queue string `json:"queue"`
	// WorkflowPollers and ActivityPollers count the announced workers
	// polling each kind of task.
	WorkflowPollers int `json:"workflow_pollers"`
	ActivityPollers int `json:"activity_pollers"`
	// WorkflowTasks and ActivityTasks are the tasks stored (waiting or in
	// flight); OldestTaskMS the age of the oldest (0: none).
	WorkflowTasks uint64  `json:"workflow_tasks"`
	ActivityTasks uint64  `json:"activity_tasks"`
	OldestTaskMS  float64 `json:"oldest_task_ms"`
	// Running runs on the queue (from the index; refreshed every few seconds).
	Running uint64 `json:"running"`
	// NoWorker: tasks or running runs wait and no worker polls the queue.
	NoWorker bool         `json:"no_worker"`
	Workers  []WorkerInfo `json:"workers,omitempty"`
}

// WorkerInfo is one announced worker of a queue.
type WorkerInfo struct {
	Identity      string    `json:"identity"`
	Version       string    `json:"version,omitempty"`
	WorkflowSlots [2]int    `json:"workflow_slots"` // in use, max
	ActivitySlots [2]int    `json:"activity_slots"`
	LastSeen      time.Time `json:"last_seen"`
}

// Polls tells whether an announced worker polls kind on queue (for
// engine.NoWorkerReason).
func (p *Pulse) Polls(queue string, kind engine.TaskKind) bool {
	for _, q := range p.Queues {
		if q.Queue != queue {
			continue
		}
		if kind == engine.ActivityTaskKind {
			return q.ActivityPollers > 0
		}
		return q.WorkflowPollers > 0
	}
	return false
}

// Pulse returns the engine's health figures.
func (c *Client) Pulse(ctx context.Context, req PulseRequest) (Pulse, error) {
	var res Pulse
	err := c.call(ctx, SubjectPulse, req, &res)
	return res, err
}
