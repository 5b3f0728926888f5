package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/foremanhq/foreman/internal/actwire"
)

// ScheduleClient creates and acts on schedules (Client.Schedules). Writes
// go to the engine when the deployment signs operator actions (the engine
// checks the caller's role: operator and admin write, every role reads),
// and to the store directly otherwise, like every other operator action.
type ScheduleClient struct{ c *Client }

// Schedules returns the client's schedule operations.
func (c *Client) Schedules() *ScheduleClient { return &ScheduleClient{c: c} }

// Names of the schedule actions on the wire (fm.api.act.<user>.<name>);
// the operator catalog serves them.
const (
	ActScheduleCreate   = "schedule-create"
	ActScheduleUpdate   = "schedule-update"
	ActSchedulePause    = "schedule-pause"
	ActScheduleUnpause  = "schedule-unpause"
	ActScheduleTrigger  = "schedule-trigger"
	ActScheduleBackfill = "schedule-backfill"
	ActScheduleDelete   = "schedule-delete"
)

// BackfillRequest asks for the fires of a time range, as if the schedule
// had fired then.
type BackfillRequest struct {
	Start   time.Time     `json:"start"`
	End     time.Time     `json:"end"`
	Overlap OverlapPolicy `json:"overlap,omitempty"` // default the schedule's
}

// TriggerRequest fires a schedule now.
type TriggerRequest struct {
	Overlap OverlapPolicy `json:"overlap,omitempty"` // default the schedule's
}

func (s *ScheduleClient) store() (ScheduleStore, error) { return schedulesOf(s.c.store) }

func (s *ScheduleClient) exec() (*scheduleExec, error) {
	ss, err := s.store()
	if err != nil {
		return nil, err
	}
	return &scheduleExec{store: s.c.store, ss: ss, client: func(string) *Client { return s.c }}, nil
}

// forwarded sends the action to the engine when the deployment wants it
// there; ok false means: do it here.
func (s *ScheduleClient) forwarded(ctx context.Context, action, id, note string, args any) (reply actwire.Reply, ok bool, err error) {
	r, fwd := s.c.forward(ctx)
	if !fwd {
		return actwire.Reply{}, false, nil
	}
	req := actwire.Request{Name: id, Reason: note}
	if args != nil {
		if req.Input, err = json.Marshal(args); err != nil {
			return actwire.Reply{}, true, fmt.Errorf("%s %s: %w", action, id, err)
		}
	}
	reply, err = s.c.act(ctx, r, action, req)
	return reply, true, err
}

// Create stores a new schedule; it first fires at the spec's first time
// after now. ErrExists if the id is taken.
func (s *ScheduleClient) Create(ctx context.Context, sch Schedule) error {
	if err := sch.validate(); err != nil {
		return err
	}
	if _, ok, err := s.forwarded(ctx, ActScheduleCreate, sch.ID, "", sch); ok {
		return err
	}
	ss, err := s.store()
	if err != nil {
		return err
	}
	now := clockOf(s.c.store).Now().UTC()
	d := &ScheduleDescription{Schedule: sch, CreatedAt: now, CreatedBy: s.c.principal, UpdatedAt: now, UpdatedBy: s.c.principal, LastFire: now}
	data, err := encodeSchedule(d)
	if err != nil {
		return err
	}
	if _, err := ss.CreateSchedule(ctx, sch.ID, data); err != nil {
		if errors.Is(err, ErrExists) {
			return fmt.Errorf("schedule %s: %w (update or delete it)", sch.ID, ErrExists)
		}
		return err
	}
	return nil
}

// Update replaces a schedule's spec, action and policies; whether it is
// paused stays as it is (Pause, Unpause). Fires are counted from now on:
// a changed spec does not fire for times already past.
func (s *ScheduleClient) Update(ctx context.Context, sch Schedule) error {
	if err := sch.validate(); err != nil {
		return err
	}
	if _, ok, err := s.forwarded(ctx, ActScheduleUpdate, sch.ID, "", sch); ok {
		return err
	}
	return s.modify(ctx, sch.ID, func(d *ScheduleDescription, now time.Time) error {
		sch.Paused, sch.Note = d.Schedule.Paused, d.Schedule.Note
		d.Schedule = sch
		if now.After(d.LastFire) {
			d.LastFire = now
		}
		return nil
	})
}

// modify changes a schedule's record as its owner asked.
func (s *ScheduleClient) modify(ctx context.Context, id string, change func(d *ScheduleDescription, now time.Time) error) error {
	ss, err := s.store()
	if err != nil {
		return err
	}
	_, err = modifySchedule(ctx, ss, id, func(d *ScheduleDescription) (bool, error) {
		now := clockOf(s.c.store).Now().UTC()
		if err := change(d, now); err != nil {
			return false, err
		}
		d.UpdatedAt, d.UpdatedBy = now, s.c.principal
		return true, nil
	})
	return err
}

// Pause stops a schedule from firing, with a note saying why.
func (s *ScheduleClient) Pause(ctx context.Context, id, note string) error {
	return s.setPaused(ctx, ActSchedulePause, id, note, true)
}

// Unpause lets a paused schedule fire again, from now on: the fires it
// would have made while paused are not caught up.
func (s *ScheduleClient) Unpause(ctx context.Context, id, note string) error {
	return s.setPaused(ctx, ActScheduleUnpause, id, note, false)
}

func (s *ScheduleClient) setPaused(ctx context.Context, action, id, note string, paused bool) error {
	if err := CheckScheduleID(id); err != nil {
		return err
	}
	if _, ok, err := s.forwarded(ctx, action, id, note, nil); ok {
		return err
	}
	return s.modify(ctx, id, func(d *ScheduleDescription, now time.Time) error {
		d.Schedule.Paused, d.Schedule.Note = paused, note
		if !paused && now.After(d.LastFire) {
			d.LastFire = now
		}
		return nil
	})
}

// Trigger fires the schedule now, with its overlap policy unless req
// names another, and returns what the fire did.
func (s *ScheduleClient) Trigger(ctx context.Context, id string, req TriggerRequest) (ScheduleActionResult, error) {
	if err := CheckScheduleID(id); err != nil {
		return ScheduleActionResult{}, err
	}
	if err := CheckOverlap(req.Overlap); err != nil {
		return ScheduleActionResult{}, err
	}
	if reply, ok, err := s.forwarded(ctx, ActScheduleTrigger, id, "", req); ok {
		var res ScheduleActionResult
		if err == nil && len(reply.Data) > 0 {
			err = json.Unmarshal(reply.Data, &res)
		}
		return res, err
	}
	now := clockOf(s.c.store).Now().UTC().Truncate(time.Millisecond)
	d, err := s.fire(ctx, id, now, func(d *ScheduleDescription) []ScheduleFire {
		return []ScheduleFire{{At: now, Trigger: TriggerManual, Overlap: orOverlap(req.Overlap, d)}}
	})
	if err != nil {
		return ScheduleActionResult{}, err
	}
	wf := d.Schedule.workflowID(now)
	res := ScheduleActionResult{ScheduledTime: now, ActualTime: now, Trigger: TriggerManual, WorkflowID: wf, Outcome: FireBuffered}
	for i := len(d.Recent) - 1; i >= 0; i-- {
		if r := d.Recent[i]; r.Trigger == TriggerManual && r.ScheduledTime.Equal(now) {
			return r, nil
		}
	}
	return res, nil
}

func orOverlap(p OverlapPolicy, d *ScheduleDescription) OverlapPolicy {
	if p == "" {
		return d.Schedule.overlap()
	}
	return p
}

// Backfill fires the schedule for every time its spec gives in
// [req.Start, req.End] (at most MaxBackfillFires), with the request's
// overlap policy, and returns how many fires it decided. A fire the
// schedule already made starts nothing again: its workflow id is taken.
func (s *ScheduleClient) Backfill(ctx context.Context, id string, req BackfillRequest) (int, error) {
	if err := CheckScheduleID(id); err != nil {
		return 0, err
	}
	if err := CheckOverlap(req.Overlap); err != nil {
		return 0, err
	}
	if req.End.Before(req.Start) {
		return 0, fmt.Errorf("%w: backfill %s: the range ends before it starts", ErrInvalidArgument, id)
	}
	if reply, ok, err := s.forwarded(ctx, ActScheduleBackfill, id, "", req); ok {
		var n int
		if err == nil && len(reply.Data) > 0 {
			err = json.Unmarshal(reply.Data, &n)
		}
		return n, err
	}
	n := 0
	_, err := s.fire(ctx, id, clockOf(s.c.store).Now().UTC(), func(d *ScheduleDescription) []ScheduleFire {
		spec, err := compileSpec(id, d.Schedule.Spec)
		if err != nil {
			return nil
		}
		var fires []ScheduleFire
		for t := spec.next(req.Start.Add(-time.Nanosecond)); !t.IsZero() && !t.After(req.End) && len(fires) < MaxBackfillFires; t = spec.next(t) {
			fires = append(fires, ScheduleFire{At: t, Trigger: TriggerBackfill, Overlap: orOverlap(req.Overlap, d)})
		}
		n = len(fires)
		return fires
	})
	return n, err
}

// fire decides the fires a trigger or backfill asks for (after bringing
// the schedule up to now) and carries out what it decided.
func (s *ScheduleClient) fire(ctx context.Context, id string, now time.Time, fires func(d *ScheduleDescription) []ScheduleFire) (*ScheduleDescription, error) {
	x, err := s.exec()
	if err != nil {
		return nil, err
	}
	d, fresh, err := x.pass(ctx, id, now, cachedRecord{}, func(d *ScheduleDescription) (bool, error) {
		fs := fires(d)
		for _, f := range fs {
			d.decide(f, now)
		}
		return len(fs) > 0, nil
	})
	if err != nil {
		return nil, err
	}
	if err := x.carryOut(ctx, d, fresh); err != nil {
		return d, err
	}
	return readSchedule(ctx, x.ss, id)
}

// Delete removes a schedule; the runs it started go on.
func (s *ScheduleClient) Delete(ctx context.Context, id string) error {
	if err := CheckScheduleID(id); err != nil {
		return err
	}
	if _, ok, err := s.forwarded(ctx, ActScheduleDelete, id, "", nil); ok {
		return err
	}
	ss, err := s.store()
	if err != nil {
		return err
	}
	for range 10 {
		d, err := readSchedule(ctx, ss, id)
		if err != nil {
			return err
		}
		if err := ss.DeleteSchedule(ctx, id, d.Revision); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("deleting schedule %s: %w", id, ErrBusy)
}

// Describe returns a schedule: its record, which of the runs it started
// are open now, and its next fire times.
func (s *ScheduleClient) Describe(ctx context.Context, id string) (*ScheduleDescription, error) {
	x, err := s.exec()
	if err != nil {
		return nil, err
	}
	d, err := readSchedule(ctx, x.ss, id)
	if err != nil {
		return nil, err
	}
	if _, err := x.refreshRunning(ctx, d); err != nil {
		return nil, err
	}
	d.fillNext(clockOf(s.c.store).Now())
	return d, nil
}

// fillNext lists the next fire times (none while paused or used up).
func (d *ScheduleDescription) fillNext(now time.Time) {
	sch := d.Schedule
	if sch.Paused || sch.LimitedActions && sch.RemainingActions <= 0 {
		return
	}
	spec, err := compileSpec(sch.ID, sch.Spec)
	if err != nil {
		return
	}
	from := d.LastFire
	if now.After(from) {
		from = now
	}
	d.NextFires = spec.upcoming(from, 5)
}

// List returns every schedule, sorted by id, as stored (without the
// open-run check Describe makes).
func (s *ScheduleClient) List(ctx context.Context) ([]*ScheduleDescription, error) {
	ss, err := s.store()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	byID := map[string]*ScheduleDescription{}
	var decodeErr error
	caughtUp := false
	now := clockOf(s.c.store).Now()
	err = ss.WatchSchedules(ctx, func(id string, data []byte, rev uint64) {
		if data == nil {
			delete(byID, id)
			return
		}
		d, err := decodeSchedule(data, rev)
		if err != nil {
			decodeErr = err
			return
		}
		d.fillNext(now)
		byID[id] = d
	}, func() { caughtUp = true; cancel() })
	if !caughtUp {
		return nil, fmt.Errorf("listing schedules: %w", err)
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("listing schedules: %w", decodeErr)
	}
	out := make([]*ScheduleDescription, 0, len(byID))
	for _, d := range byID {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Schedule.ID < out[j].Schedule.ID })
	return out, nil
}
