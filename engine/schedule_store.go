package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ScheduleStore keeps one record per schedule with compare-and-swap; the
// jetstream store implements it on the KV fm_schedules. The store moves
// bytes; the engine owns the record's encoding.
type ScheduleStore interface {
	// CreateSchedule stores data under id only if absent (ErrExists).
	CreateSchedule(ctx context.Context, id string, data []byte) (rev uint64, err error)
	// GetSchedule returns the record and its revision (ErrNotFound).
	GetSchedule(ctx context.Context, id string) (data []byte, rev uint64, err error)
	// UpdateSchedule replaces the record if its revision is still rev
	// (ErrConflict otherwise).
	UpdateSchedule(ctx context.Context, id string, data []byte, rev uint64) (uint64, error)
	// DeleteSchedule removes the record if its revision is still rev.
	DeleteSchedule(ctx context.Context, id string, rev uint64) error
	// WatchSchedules calls fn with every record, then with each change
	// (data nil: deleted), until ctx ends; caughtUp is called once after
	// the records that existed when the watch began.
	WatchSchedules(ctx context.Context, fn func(id string, data []byte, rev uint64), caughtUp func()) error
}

// schedulesOf returns the store's schedule store, or an error saying the
// store keeps none.
func schedulesOf(s any) (ScheduleStore, error) {
	if ss, ok := s.(ScheduleStore); ok {
		return ss, nil
	}
	if u, ok := s.(interface{ ScheduleStore() ScheduleStore }); ok {
		return u.ScheduleStore(), nil
	}
	return nil, fmt.Errorf("%w: this store keeps no schedules", ErrInvalidArgument)
}

// ScheduleDescription is a schedule's stored record: what its owner gave,
// and what the engines keep about its fires. Describe adds the next fire
// times and refreshes which started runs are still open.
type ScheduleDescription struct {
	Schedule  Schedule  `json:"schedule"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	// LastFire is the nominal time of the newest scheduled fire decided:
	// every fire of the spec up to it started, was skipped or was missed.
	LastFire time.Time `json:"last_fire"`
	// Running are the runs the schedule started that were open when last
	// looked at (Describe looks).
	Running []ScheduledRun `json:"running,omitempty"`
	// Recent are the newest actions, oldest first.
	Recent []ScheduleActionResult `json:"recent,omitempty"`
	// Buffered are fires waiting for the open run to close.
	Buffered []ScheduleFire `json:"buffered,omitempty"`
	// Pending are decided steps not yet carried out (the outbox): a crash
	// leaves them for whichever engine looks next.
	Pending []ScheduleStep `json:"pending,omitempty"`
	// Counts since the schedule was created.
	Actions int64 `json:"actions"`
	Skipped int64 `json:"skipped"`
	Missed  int64 `json:"missed"`
	// NextFires are the next nominal fire times (Describe fills them).
	NextFires []time.Time `json:"next_fires,omitempty"`
	// Revision is the record's store revision when read.
	Revision uint64 `json:"revision"`
}

// ScheduledRun is a run a schedule started.
type ScheduledRun struct {
	WorkflowID    string    `json:"workflow_id"`
	RunID         string    `json:"run_id"`
	ScheduledTime time.Time `json:"scheduled_time"`
	StartedAt     time.Time `json:"started_at"`
}

// Fire triggers: what made a schedule fire.
const (
	TriggerScheduled = "scheduled"
	TriggerManual    = "trigger"
	TriggerBackfill  = "backfill"
)

// Outcomes of a fire.
const (
	FireStarted    = "started"
	FireSkipped    = "skipped"    // overlap skip, or a full buffer
	FireBuffered   = "buffered"   // waits for the open run to close
	FireSuperseded = "superseded" // a newer fire took its place (cancel/terminate other)
	FireFailed     = "failed"     // the start was refused for good
)

// ScheduleFire is one fire of a schedule.
type ScheduleFire struct {
	At      time.Time     `json:"at"` // nominal time
	Trigger string        `json:"trigger"`
	Overlap OverlapPolicy `json:"overlap"`
}

// ScheduleStep is one decided step of the outbox.
type ScheduleStep struct {
	Kind       string       `json:"kind"` // start, cancel, terminate
	WorkflowID string       `json:"workflow_id"`
	Fire       ScheduleFire `json:"fire"`
}

// Outbox step kinds.
const (
	stepStart     = "start"
	stepCancel    = "cancel"
	stepTerminate = "terminate"
)

// ScheduleActionResult is what one fire did.
type ScheduleActionResult struct {
	ScheduledTime time.Time `json:"scheduled_time"`
	ActualTime    time.Time `json:"actual_time"`
	Trigger       string    `json:"trigger"`
	Outcome       string    `json:"outcome"`
	WorkflowID    string    `json:"workflow_id,omitempty"`
	RunID         string    `json:"run_id,omitempty"`
	Detail        string    `json:"detail,omitempty"`
}

func decodeSchedule(data []byte, rev uint64) (*ScheduleDescription, error) {
	var d ScheduleDescription
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decoding schedule record (revision %d): %w", rev, err)
	}
	d.Revision = rev
	return &d, nil
}

func encodeSchedule(d *ScheduleDescription) ([]byte, error) {
	cp := *d
	cp.NextFires, cp.Revision = nil, 0 // computed on read
	data, err := json.Marshal(&cp)
	if err != nil {
		return nil, fmt.Errorf("encoding schedule %s: %w", d.Schedule.ID, err)
	}
	return data, nil
}

// readSchedule returns a schedule's record.
func readSchedule(ctx context.Context, ss ScheduleStore, id string) (*ScheduleDescription, error) {
	if err := CheckScheduleID(id); err != nil {
		return nil, err
	}
	data, rev, err := ss.GetSchedule(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrScheduleNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	return decodeSchedule(data, rev)
}

// ErrScheduleNotFound: no schedule of that id.
var ErrScheduleNotFound = fmt.Errorf("schedule %w", ErrNotFound)

// modifySchedule applies change to the schedule's current record and
// writes it back, again on every concurrent write, until one lands.
// change returns false to write nothing.
func modifySchedule(ctx context.Context, ss ScheduleStore, id string, change func(d *ScheduleDescription) (bool, error)) (*ScheduleDescription, error) {
	return modifyScheduleFrom(ctx, ss, id, cachedRecord{}, change)
}

// cachedRecord is a record as stored, at its revision.
type cachedRecord struct {
	data []byte
	rev  uint64
}

// modifyScheduleFrom is modifySchedule trying first on cached (the newest
// record the caller saw; nil: read it): a stale one costs a conflict and
// a read, a current one saves the read (the scheduler's watch keeps it).
func modifyScheduleFrom(ctx context.Context, ss ScheduleStore, id string, cached cachedRecord, change func(d *ScheduleDescription) (bool, error)) (*ScheduleDescription, error) {
	for range 50 {
		var d *ScheduleDescription
		var err error
		if cached.data != nil {
			d, err = decodeSchedule(cached.data, cached.rev)
			cached = cachedRecord{}
		} else {
			d, err = readSchedule(ctx, ss, id)
		}
		if err != nil {
			return nil, err
		}
		ok, err := change(d)
		if err != nil || !ok {
			return d, err
		}
		data, err := encodeSchedule(d)
		if err != nil {
			return nil, err
		}
		rev, err := ss.UpdateSchedule(ctx, id, data, d.Revision)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("updating schedule %s: %w", id, err)
		}
		d.Revision = rev
		return d, nil
	}
	return nil, fmt.Errorf("updating schedule %s: %w", id, ErrBusy)
}

// noteRecent appends r to the record's recent actions, keeping the newest.
func (d *ScheduleDescription) noteRecent(r ScheduleActionResult) {
	d.Recent = append(d.Recent, r)
	if n := len(d.Recent); n > scheduleRecent {
		d.Recent = append([]ScheduleActionResult(nil), d.Recent[n-scheduleRecent:]...)
	}
}
