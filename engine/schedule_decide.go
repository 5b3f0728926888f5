package engine

import (
	"fmt"
	"time"
)

// The decisions a schedule's record goes through, as pure functions of the
// record and the time: whoever writes the record back with compare-and-swap
// made the decision, once; the steps it decided wait in the record's
// outbox (Pending) until carried out.

// maxFiresPerPass bounds the fires one pass decides (a long outage of a
// schedule firing every second); the next pass goes on.
const maxFiresPerPass = 2000

// advance decides every scheduled fire due by now after LastFire: a fire
// due longer ago than the catch-up window is missed, any other is decided
// by the overlap policy. It reports whether the record changed.
func (d *ScheduleDescription) advance(spec *compiledSpec, now time.Time) bool {
	sch := &d.Schedule
	if sch.Paused {
		return false
	}
	changed := false
	window := sch.catchupWindow()
	for range maxFiresPerPass {
		t := spec.next(d.LastFire)
		if t.IsZero() || spec.due(t).After(now) {
			break
		}
		d.LastFire, changed = t, true
		if now.Sub(spec.due(t)) > window {
			d.Missed++
			continue
		}
		if sch.LimitedActions {
			if sch.RemainingActions <= 0 {
				continue // the schedule has used up its actions
			}
			sch.RemainingActions--
		}
		d.decide(ScheduleFire{At: t, Trigger: TriggerScheduled, Overlap: sch.overlap()}, now)
	}
	return changed
}

// busy tells whether a run the schedule started may be open, or is about
// to start.
func (d *ScheduleDescription) busy() bool {
	if len(d.Running) > 0 {
		return true
	}
	for _, s := range d.Pending {
		if s.Kind == stepStart {
			return true
		}
	}
	return false
}

// openIDs are the workflow ids of the runs that may be open or about to
// start, the ones cancel_other and terminate_other act on.
func (d *ScheduleDescription) openIDs() []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, r := range d.Running {
		add(r.WorkflowID)
	}
	for _, s := range d.Pending {
		if s.Kind == stepStart {
			add(s.WorkflowID)
		}
	}
	return ids
}

// decide applies the fire's overlap policy: start now, buffer, skip,
// or cancel/terminate the open runs first.
func (d *ScheduleDescription) decide(f ScheduleFire, now time.Time) {
	id := d.Schedule.workflowID(f.At)
	start := ScheduleStep{Kind: stepStart, WorkflowID: id, Fire: f}
	note := func(outcome, detail string) {
		d.noteRecent(ScheduleActionResult{ScheduledTime: f.At, ActualTime: now, Trigger: f.Trigger, Outcome: outcome, WorkflowID: id, Detail: detail})
	}
	if f.Overlap == OverlapAllowAll || !d.busy() && len(d.Buffered) == 0 {
		d.Pending = append(d.Pending, start)
		return
	}
	switch f.Overlap {
	case OverlapBufferOne, OverlapBufferAll:
		limit := 1
		if f.Overlap == OverlapBufferAll {
			limit = MaxScheduleBuffer
		}
		if len(d.Buffered) >= limit {
			d.Skipped++
			note(FireSkipped, fmt.Sprintf("%s: the buffer holds %d fire(s) already", f.Overlap, len(d.Buffered)))
			return
		}
		d.Buffered = append(d.Buffered, f)
		note(FireBuffered, "waits for the open run to close")
	case OverlapCancelOther:
		d.supersedeBuffered(now)
		for _, open := range d.openIDs() {
			if !d.hasStep(stepCancel, open) {
				d.Pending = append(d.Pending, ScheduleStep{Kind: stepCancel, WorkflowID: open, Fire: f})
			}
		}
		d.Buffered = []ScheduleFire{f}
		note(FireBuffered, "starts once the canceled run closed")
	case OverlapTerminateOther:
		d.supersedeBuffered(now)
		for _, open := range d.openIDs() {
			d.Pending = append(d.Pending, ScheduleStep{Kind: stepTerminate, WorkflowID: open, Fire: f})
		}
		d.Pending = append(d.Pending, start)
	default: // skip
		d.Skipped++
		note(FireSkipped, "a run the schedule started is still open")
	}
}

func (d *ScheduleDescription) hasStep(kind, workflowID string) bool {
	for _, s := range d.Pending {
		if s.Kind == kind && s.WorkflowID == workflowID {
			return true
		}
	}
	return false
}

// supersedeBuffered drops the buffered fires a newer fire replaces.
func (d *ScheduleDescription) supersedeBuffered(now time.Time) {
	for _, b := range d.Buffered {
		d.Skipped++
		d.noteRecent(ScheduleActionResult{ScheduledTime: b.At, ActualTime: now, Trigger: b.Trigger, Outcome: FireSuperseded,
			WorkflowID: d.Schedule.workflowID(b.At), Detail: "a newer fire replaced it"})
	}
	d.Buffered = nil
}

// promote starts the first buffered fire once nothing the schedule started
// is open.
func (d *ScheduleDescription) promote() bool {
	if len(d.Buffered) == 0 || d.busy() {
		return false
	}
	f := d.Buffered[0]
	d.Buffered = d.Buffered[1:]
	if len(d.Buffered) == 0 {
		d.Buffered = nil
	}
	d.Pending = append(d.Pending, ScheduleStep{Kind: stepStart, WorkflowID: d.Schedule.workflowID(f.At), Fire: f})
	return true
}

// needsOpenCheck tells whether deciding now depends on which started runs
// are still open.
func (d *ScheduleDescription) needsOpenCheck(spec *compiledSpec, now time.Time) bool {
	if len(d.Running) == 0 {
		return false
	}
	if len(d.Buffered) > 0 {
		return true
	}
	if d.Schedule.Paused || d.Schedule.overlap() == OverlapAllowAll {
		return false
	}
	t := spec.next(d.LastFire)
	return !t.IsZero() && !spec.due(t).After(now)
}

// stepDone is a carried-out step and what it gave.
type stepDone struct {
	step   ScheduleStep
	run    Run
	result ScheduleActionResult // for starts
}

// settle removes carried-out steps from the outbox and records what they
// did; a step no longer there was settled by someone else and counts
// once. It reports whether the record changed.
func (d *ScheduleDescription) settle(done []stepDone) bool {
	changed := false
	for _, sd := range done {
		i := d.stepIndex(sd.step)
		if i < 0 {
			continue
		}
		d.Pending = append(d.Pending[:i:i], d.Pending[i+1:]...)
		if len(d.Pending) == 0 {
			d.Pending = nil
		}
		changed = true
		if sd.step.Kind != stepStart {
			continue
		}
		d.noteRecent(sd.result)
		if sd.result.Outcome != FireStarted {
			continue
		}
		d.Actions++
		d.Running = append(d.Running, ScheduledRun{WorkflowID: sd.run.WorkflowID, RunID: sd.run.RunID,
			ScheduledTime: sd.step.Fire.At, StartedAt: sd.result.ActualTime})
		if n := len(d.Running); n > scheduleRunning {
			d.Running = append([]ScheduledRun(nil), d.Running[n-scheduleRunning:]...)
		}
	}
	return changed
}

func (d *ScheduleDescription) stepIndex(s ScheduleStep) int {
	for i, p := range d.Pending {
		if p.Kind == s.Kind && p.WorkflowID == s.WorkflowID && p.Fire.At.Equal(s.Fire.At) {
			return i
		}
	}
	return -1
}
