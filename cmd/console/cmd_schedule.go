package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
)

// scheduleFlags are the flags of `foreman schedule` (opts.schedule).
type scheduleFlags struct {
	cron, every, attrs         stringList
	tz, startAt, endAt, jitter string
	wfType, queue, idTemplate  string
	overlap, catchup, note     string
	start, end                 string
	remaining                  int64
	paused                     bool
}

// stringList is a flag given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

var scheduleSubs = map[string]string{
	"create": engine.ActScheduleCreate, "update": engine.ActScheduleUpdate, "pause": engine.ActSchedulePause,
	"unpause": engine.ActScheduleUnpause, "trigger": engine.ActScheduleTrigger, "backfill": engine.ActScheduleBackfill,
	"delete": engine.ActScheduleDelete, "list": "", "describe": "",
}

var scheduleCommand = &command{
	name: "schedule", args: "create|list|describe|update|pause|unpause|trigger|backfill|delete [ID]", group: groupSchedules,
	summary: "durable schedules that start workflows on a timetable",
	action: func(_ *opts, args []string) string {
		if len(args) == 0 {
			return ""
		}
		return scheduleSubs[args[0]]
	},
	flags: func(fs *flag.FlagSet, o *opts) {
		f := &o.schedule
		fs.Var(&f.cron, "cron", "cron expression, 5 fields or 6 with seconds first (repeatable)")
		fs.Var(&f.every, "every", "interval, e.g. 1h or 1h@15m for 15 minutes past each hour (repeatable)")
		fs.StringVar(&f.tz, "tz", "", "time zone of the cron expressions (IANA name; default UTC)")
		fs.StringVar(&f.startAt, "start-at", "", "fire nothing before this time (RFC 3339)")
		fs.StringVar(&f.endAt, "end-at", "", "fire nothing after this time (RFC 3339)")
		fs.StringVar(&f.jitter, "jitter", "", "delay each fire by up to this long")
		fs.StringVar(&f.wfType, "type", "", "workflow type to start")
		fs.StringVar(&f.queue, "queue", "", "task queue of the started runs")
		fs.StringVar(&o.input, "input", "", "input of the started runs: JSON inline, @FILE or -")
		fs.StringVar(&f.idTemplate, "workflow-id", "", "id template of the started runs ({schedule}, {time}, {unix}; default {schedule}-{time})")
		fs.Var(&f.attrs, "attr", "keyword search attribute NAME=VALUE of the started runs (repeatable)")
		fs.StringVar(&f.overlap, "overlap", "", "overlap policy: skip (default), buffer_one, buffer_all, cancel_other, terminate_other, allow_all")
		fs.StringVar(&f.catchup, "catchup-window", "", "how late a missed fire may still start (default 1m)")
		fs.Int64Var(&f.remaining, "remaining", 0, "start at most this many runs from scheduled fires (0: no limit)")
		fs.BoolVar(&f.paused, "paused", false, "create the schedule paused")
		fs.StringVar(&f.note, "note", "", "why the schedule is paused or unpaused")
		fs.StringVar(&f.start, "start", "", "backfill: first time of the range (RFC 3339)")
		fs.StringVar(&f.end, "end", "", "backfill: last time of the range (RFC 3339)")
	},
	run: runSchedule,
}

func runSchedule(ctx context.Context, a *app, o *opts, args []string) error {
	if len(args) == 0 {
		return usagef("schedule: name a subcommand (create, list, describe, update, pause, unpause, trigger, backfill, delete)")
	}
	sub, args := args[0], args[1:]
	act, known := scheduleSubs[sub]
	if !known {
		return usagef("schedule: unknown subcommand %q", sub)
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(args) != want {
		return usagef("schedule %s takes %d argument(s), got %q", sub, want, args)
	}
	c, err := a.engine(ctx)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		return scheduleList(ctx, a, c)
	case "describe":
		d, err := c.Schedules().Describe(ctx, args[0])
		if err != nil {
			return err
		}
		return scheduleDescribe(a, d)
	}
	id := args[0]
	p := operator.Params{Name: id, Reason: o.schedule.note}
	f := &o.schedule
	switch sub {
	case "create", "update":
		sch := engine.Schedule{ID: id}
		if sub == "update" {
			d, err := c.Schedules().Describe(ctx, id)
			if err != nil {
				return err
			}
			sch = d.Schedule
		}
		if err := f.apply(&sch, o, a, sub == "create"); err != nil {
			return err
		}
		if p.Input, err = json.Marshal(sch); err != nil {
			return err
		}
	case "trigger":
		p.Input, _ = json.Marshal(engine.TriggerRequest{Overlap: engine.OverlapPolicy(f.overlap)})
	case "backfill":
		start, err1 := parseTime("--start", f.start)
		end, err2 := parseTime("--end", f.end)
		if err1 != nil || err2 != nil || start.IsZero() || end.IsZero() {
			return usagef("schedule backfill needs --start and --end (RFC 3339)")
		}
		p.Input, _ = json.Marshal(engine.BackfillRequest{Start: start, End: end, Overlap: engine.OverlapPolicy(f.overlap)})
	case "delete":
		if err := a.confirm(fmt.Sprintf("delete schedule %s (the runs it started go on)?", id)); err != nil {
			return err
		}
	}
	out, err := a.actions.Perform(ctx, operator.Request{Action: act, Params: p})
	if err != nil {
		return err
	}
	if a.out.format != formatTable && out.Data != nil {
		return a.out.value(out.Data)
	}
	a.infof("%s", out.Detail)
	return nil
}

// apply sets what the flags give on sch (create: all of it).
func (f *scheduleFlags) apply(sch *engine.Schedule, o *opts, a *app, create bool) error {
	// update changes what the flags give; create takes them all
	set := func(given bool) bool { return create || given }
	if set(len(f.cron)+len(f.every) > 0) {
		sch.Spec.Cron, sch.Spec.Intervals = f.cron, nil
		for _, e := range f.every {
			every, offset, _ := strings.Cut(e, "@")
			iv := engine.ScheduleInterval{}
			if err := parseDuration("--every", every, &iv.Every); err != nil {
				return err
			}
			if offset != "" {
				if err := parseDuration("--every offset", offset, &iv.Offset); err != nil {
					return err
				}
			}
			sch.Spec.Intervals = append(sch.Spec.Intervals, iv)
		}
	}
	if set(f.tz != "") {
		sch.Spec.TimeZone = f.tz
	}
	var err error
	if set(f.startAt != "") {
		if sch.Spec.StartAt, err = parseTime("--start-at", f.startAt); err != nil {
			return err
		}
	}
	if set(f.endAt != "") {
		if sch.Spec.EndAt, err = parseTime("--end-at", f.endAt); err != nil {
			return err
		}
	}
	if f.jitter != "" {
		if err := parseDuration("--jitter", f.jitter, &sch.Spec.Jitter); err != nil {
			return err
		}
	}
	if f.catchup != "" {
		if err := parseDuration("--catchup-window", f.catchup, &sch.CatchupWindow); err != nil {
			return err
		}
	}
	if set(f.wfType != "") {
		sch.Action.WorkflowType = f.wfType
	}
	if set(f.queue != "") {
		sch.Action.TaskQueue = f.queue
	}
	if set(f.idTemplate != "") {
		sch.Action.WorkflowID = f.idTemplate
	}
	if o.input != "" {
		if sch.Action.Input, err = readJSON("--input", o.input, a.io.in); err != nil {
			return err
		}
	}
	if len(f.attrs) > 0 {
		sch.Action.SearchAttributes = map[string]engine.SearchAttribute{}
		for _, kv := range f.attrs {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				return usagef("--attr %q: want NAME=VALUE", kv)
			}
			sch.Action.SearchAttributes[name] = engine.Keyword(value)
		}
	}
	if set(f.overlap != "") {
		sch.Overlap = engine.OverlapPolicy(f.overlap)
	}
	if set(f.remaining != 0) {
		sch.LimitedActions, sch.RemainingActions = f.remaining > 0, f.remaining
	}
	if create {
		sch.Paused, sch.Note = f.paused, f.note
	}
	return nil
}

func parseDuration(flagName, s string, into *engine.Duration) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return usagef("%s %q: %v", flagName, s, err)
	}
	*into = engine.Duration(d)
	return nil
}

func parseTime(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, usagef("%s %q: want RFC 3339 (2026-12-01T09:00:00Z)", flagName, s)
	}
	return t, nil
}

func scheduleList(ctx context.Context, a *app, c *engine.Client) error {
	all, err := c.Schedules().List(ctx)
	if err != nil {
		return err
	}
	if a.out.format != formatTable {
		return list(a.out, all)
	}
	t := &table{header: []string{"ID", "SPEC", "WORKFLOW", "OVERLAP", "STATE", "NEXT FIRE", "ACTIONS"}}
	for _, d := range all {
		next := "-"
		if len(d.NextFires) > 0 {
			next = when(d.NextFires[0])
		}
		t.add(d.Schedule.ID, specText(d.Schedule.Spec), d.Schedule.Action.WorkflowType+" on "+d.Schedule.Action.TaskQueue,
			string(orSkip(d.Schedule.Overlap)), stateText(d.Schedule), next, fmt.Sprint(d.Actions))
	}
	return t.print(a.io.out)
}

func orSkip(p engine.OverlapPolicy) engine.OverlapPolicy {
	if p == "" {
		return engine.OverlapSkip
	}
	return p
}

// stateText is "active", or "paused: NOTE".
func stateText(s engine.Schedule) string {
	if !s.Paused {
		return "active"
	}
	if s.Note == "" {
		return "paused"
	}
	return "paused: " + s.Note
}

// specText says when a schedule fires, in one line.
func specText(s engine.ScheduleSpec) string {
	var parts []string
	for _, c := range s.Cron {
		parts = append(parts, "cron "+c)
	}
	for _, iv := range s.Intervals {
		p := "every " + iv.Every.String()
		if iv.Offset != 0 {
			p += " +" + iv.Offset.String()
		}
		parts = append(parts, p)
	}
	out := strings.Join(parts, ", ")
	if s.TimeZone != "" {
		out += " (" + s.TimeZone + ")"
	}
	if s.Jitter != 0 {
		out += " jitter " + s.Jitter.String()
	}
	return out
}

func scheduleDescribe(a *app, d *engine.ScheduleDescription) error {
	if a.out.format != formatTable {
		return a.out.value(d)
	}
	s := d.Schedule
	t := &table{}
	t.add("ID", s.ID)
	t.add("STATE", stateText(s))
	t.add("SPEC", specText(s.Spec))
	t.add("ACTION", fmt.Sprintf("start %s on %s, id %s", s.Action.WorkflowType, s.Action.TaskQueue, orDefault(s.Action.WorkflowID, "{schedule}-{time}")))
	t.add("OVERLAP", string(orSkip(s.Overlap)))
	if s.LimitedActions {
		t.add("REMAINING", fmt.Sprint(s.RemainingActions))
	}
	t.add("COUNTS", fmt.Sprintf("%d started, %d skipped, %d missed, %d buffered", d.Actions, d.Skipped, d.Missed, len(d.Buffered)))
	t.add("CREATED", when(d.CreatedAt)+" by "+orDefault(d.CreatedBy, "?"))
	t.add("UPDATED", when(d.UpdatedAt)+" by "+orDefault(d.UpdatedBy, "?"))
	for _, n := range d.NextFires {
		t.add("NEXT FIRE", when(n))
	}
	for _, r := range d.Running {
		t.add("RUNNING", r.WorkflowID+" (scheduled "+when(r.ScheduledTime)+")")
	}
	for _, r := range d.Recent {
		t.add("RECENT", fmt.Sprintf("%s %s %s %s %s", when(r.ScheduledTime), r.Trigger, r.Outcome, orDefault(r.WorkflowID, ""), r.Detail))
	}
	t.add("RUNS", "foreman list -q 'scheduled_by:"+s.ID+"'")
	return t.print(a.io.out)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
