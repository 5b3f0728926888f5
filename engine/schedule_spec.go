package engine

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// compiledSpec answers "when is the next fire after t" for one schedule.
// Every engine computes the same answers from the same record: jitter is
// a hash of the schedule and the fire's time, not a random draw.
type compiledSpec struct {
	id        string
	crons     []cron.Schedule
	loc       *time.Location
	intervals []ScheduleInterval
	start     time.Time
	end       time.Time
	jitter    time.Duration
}

// cronParser takes five fields, an optional leading seconds field, and
// descriptors (@daily).
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func compileSpec(id string, s ScheduleSpec) (*compiledSpec, error) {
	c := &compiledSpec{id: id, loc: time.UTC, intervals: s.Intervals, start: s.StartAt, end: s.EndAt, jitter: time.Duration(s.Jitter)}
	if len(s.Cron) == 0 && len(s.Intervals) == 0 {
		return nil, fmt.Errorf("%w: the spec needs a cron expression or an interval", ErrInvalidArgument)
	}
	if s.TimeZone != "" {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("%w: time zone %q: %v", ErrInvalidArgument, s.TimeZone, err)
		}
		c.loc = loc
	}
	for _, expr := range s.Cron {
		if strings.HasPrefix(strings.TrimSpace(expr), "@every") {
			return nil, fmt.Errorf("%w: cron %q: use an interval instead of @every", ErrInvalidArgument, expr)
		}
		if strings.Contains(expr, "TZ=") {
			return nil, fmt.Errorf("%w: cron %q: give the time zone in the spec's time_zone, not in the expression", ErrInvalidArgument, expr)
		}
		sch, err := cronParser.Parse(expr)
		if err != nil {
			return nil, fmt.Errorf("%w: cron %q: %v", ErrInvalidArgument, expr, err)
		}
		c.crons = append(c.crons, sch)
	}
	for _, iv := range s.Intervals {
		if iv.Every < Duration(time.Second) {
			return nil, fmt.Errorf("%w: interval %s: at least 1s", ErrInvalidArgument, iv.Every)
		}
		if iv.Offset < 0 || iv.Offset >= iv.Every {
			return nil, fmt.Errorf("%w: interval %s: the offset %s must be in [0, %s)", ErrInvalidArgument, iv.Every, iv.Offset, iv.Every)
		}
	}
	if !c.start.IsZero() && !c.end.IsZero() && !c.end.After(c.start) {
		return nil, fmt.Errorf("%w: the spec ends (%s) before it starts (%s)", ErrInvalidArgument, c.end.Format(time.RFC3339), c.start.Format(time.RFC3339))
	}
	return c, nil
}

// next is the earliest nominal fire time after t (the zero time: none).
func (c *compiledSpec) next(t time.Time) time.Time {
	if !c.start.IsZero() && t.Before(c.start) {
		t = c.start.Add(-time.Nanosecond) // a fire exactly at start counts
	}
	var best time.Time
	for _, s := range c.crons {
		if n := s.Next(t.In(c.loc)); !n.IsZero() && (best.IsZero() || n.Before(best)) {
			best = n
		}
	}
	for _, iv := range c.intervals {
		every, off := time.Duration(iv.Every), time.Duration(iv.Offset)
		// k*every + off > t, on Unix nanoseconds: exact for any date the
		// engine will see (int64 nanoseconds reach year 2262).
		ns := t.UnixNano() - int64(off)
		k := ns / int64(every)
		if ns >= 0 || ns%int64(every) == 0 {
			k++
		}
		n := time.Unix(0, k*int64(every)+int64(off))
		if best.IsZero() || n.Before(best) {
			best = n
		}
	}
	if best.IsZero() || !c.end.IsZero() && best.After(c.end) {
		return time.Time{}
	}
	return best.UTC()
}

// jitterOf is the delay of the fire at t: the same on every engine.
func (c *compiledSpec) jitterOf(t time.Time) time.Duration {
	if c.jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", c.id, t.UnixNano())
	return time.Duration(h.Sum64() % uint64(c.jitter))
}

// due is when the fire at nominal time t starts.
func (c *compiledSpec) due(t time.Time) time.Time { return t.Add(c.jitterOf(t)) }

// upcoming lists the next n nominal fire times after t.
func (c *compiledSpec) upcoming(t time.Time, n int) []time.Time {
	var out []time.Time
	for len(out) < n {
		if t = c.next(t); t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}
