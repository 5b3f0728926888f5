package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/internal/clock"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// manualStore is the JetStream store on a manual clock: the scheduler's
// timers, event times and fire decisions all read it, so a test moves
// time to each fire.
type manualStore struct {
	*jetstream.Store
	clk *clock.Manual
}

func (s manualStore) EngineClock() engine.Clock { return s.clk }

var schedT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type schedHarness struct {
	t      *testing.T
	js     *jetstream.Store
	store  manualStore
	clk    *clock.Manual
	client *engine.Client
	ctx    context.Context
	stop   func() // stops the scheduler
}

// newSchedHarness runs the engine's services, a scheduler and a worker of
// queue "sq" (workflows Blocker: sleeps a day; Quick: returns at once;
// Chain: continues as new twice, then sleeps a day) on a manual clock at
// schedT0.
func newSchedHarness(t *testing.T) *schedHarness {
	t.Helper()
	js, _ := jstest.Start(t)
	clk := clock.NewManual(schedT0)
	h := &schedHarness{t: t, js: js, store: manualStore{Store: js, clk: clk}, clk: clk}
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = engine.RunServices(ctx, h.store, quietLogger())
	}()
	t.Cleanup(func() { cancel(); <-done })
	h.client = engine.NewClient(h.store, engine.ClientOptions{Identity: "tester"})
	w := engine.NewWorker(h.store, "sq", engine.WorkerOptions{Logger: quietLogger(), ShutdownTimeout: time.Second})
	must(w.RegisterWorkflowWithName("Blocker", func(ctx engine.Context) error { return engine.Sleep(ctx, 24*time.Hour) }))
	must(w.RegisterWorkflowWithName("Quick", func(ctx engine.Context) (string, error) { return "ok", nil }))
	must(w.RegisterWorkflowWithName("Chain", func(ctx engine.Context, n int) error {
		if n < 2 {
			return engine.NewContinueAsNewError(ctx, n+1)
		}
		return engine.Sleep(ctx, 24*time.Hour)
	}))
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	h.startScheduler()
	return h
}

func (h *schedHarness) startScheduler() {
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = engine.RunScheduler(ctx, h.store, quietLogger())
	}()
	h.stop = func() { cancel(); <-done }
	h.t.Cleanup(h.stop)
}

func (h *schedHarness) create(id string, overlap engine.OverlapPolicy, wfType string, mod func(s *engine.Schedule)) {
	h.t.Helper()
	s := engine.Schedule{ID: id, Overlap: overlap,
		Spec:   engine.ScheduleSpec{Intervals: []engine.ScheduleInterval{{Every: engine.Duration(time.Minute)}}},
		Action: engine.ScheduleAction{WorkflowType: wfType, TaskQueue: "sq"}}
	if mod != nil {
		mod(&s)
	}
	if err := h.client.Schedules().Create(h.ctx, s); err != nil {
		h.t.Fatalf("create %s: %v", id, err)
	}
	// the scheduler arms its timer when the watch delivers the record
	h.waitFor(fmt.Sprintf("the scheduler to arm %s", id), func() bool { _, ok := h.clk.Next(); return ok })
}

// at moves the clock to schedT0+d and waits until the schedule has
// decided every fire due by then and carried them out.
func (h *schedHarness) at(id string, d time.Duration) *engine.ScheduleDescription {
	h.t.Helper()
	h.clk.Set(schedT0.Add(d))
	var desc *engine.ScheduleDescription
	h.waitFor(fmt.Sprintf("%s to settle at +%s", id, d), func() bool {
		x, err := h.client.Schedules().Describe(h.ctx, id)
		if err != nil {
			return false
		}
		desc = x
		// the schedules here fire once a minute: the newest fire due by
		// then is less than a minute old
		return x.LastFire.After(schedT0.Add(d-time.Minute)) && len(x.Pending) == 0 && h.clk.Holds() == 0
	})
	return desc
}

func (h *schedHarness) waitFor(what string, ok func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runs lists the workflow ids the schedule's runs have (every run record
// whose first event names the schedule), sorted.
func (h *schedHarness) runs(id string) []string {
	h.t.Helper()
	var out []string
	err := h.js.ListRuns(h.ctx, func(wf string, rec engine.RunRecord) error {
		if strings.HasPrefix(wf, id+"-") {
			out = append(out, wf)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func fireID(id string, d time.Duration) string {
	return id + "-" + schedT0.Add(d).Format(engine.FireTimeFormat)
}

func (h *schedHarness) wantRuns(id string, want ...string) {
	h.t.Helper()
	if got := h.runs(id); strings.Join(got, ",") != strings.Join(want, ",") {
		h.t.Fatalf("runs of %s:\n got %v\nwant %v", id, got, want)
	}
}

func (h *schedHarness) status(wf string) engine.Status {
	h.t.Helper()
	x, err := h.client.Describe(h.ctx, wf, "")
	if err != nil {
		h.t.Fatalf("describe %s: %v", wf, err)
	}
	return x.Status
}

func (h *schedHarness) waitStatus(wf string, want engine.Status) {
	h.t.Helper()
	h.waitFor(wf+" to be "+string(want), func() bool {
		x, err := h.client.Describe(h.ctx, wf, "")
		return err == nil && x.Status == want
	})
}

// An interval schedule with an offset fires at epoch + offset + k*every,
// and at nothing else; each run carries the schedule and the fire time.
func TestScheduleIntervalFiresOnTime(t *testing.T) {
	h := newSchedHarness(t)
	h.create("iv", engine.OverlapAllowAll, "Quick", func(s *engine.Schedule) {
		s.Spec.Intervals[0].Offset = engine.Duration(10 * time.Second)
	})
	h.clk.Set(schedT0.Add(5 * time.Second)) // before the first fire
	time.Sleep(50 * time.Millisecond)
	h.wantRuns("iv")
	var fires []string
	for k := 0; k < 3; k++ {
		at := time.Duration(k)*time.Minute + 10*time.Second
		h.at("iv", at)
		fires = append(fires, fireID("iv", at))
		h.wantRuns("iv", fires...)
		events, err := h.client.History(h.ctx, fires[k], "")
		must(err)
		st := events[0].Attrs.(*engine.WorkflowStarted)
		want := schedT0.Add(at)
		if st.ScheduledBy != "iv" || !st.ScheduledStartTime.Equal(want) || !events[0].Time.Equal(want) {
			t.Fatalf("%s started %s by %q for %s, want at %s by iv", fires[k], events[0].Time, st.ScheduledBy, st.ScheduledStartTime, want)
		}
	}
	d, err := h.client.Schedules().Describe(h.ctx, "iv")
	must(err)
	if d.Actions != 3 || len(d.NextFires) == 0 || !d.NextFires[0].Equal(schedT0.Add(190*time.Second)) {
		t.Fatalf("describe: actions %d, next fires %v", d.Actions, d.NextFires)
	}
}

// Every overlap policy, with a run that is still open at the next fire.
func TestScheduleOverlapPolicies(t *testing.T) {
	h := newSchedHarness(t)
	m := time.Minute
	for _, p := range engine.OverlapPolicies {
		h.create(string(p), p, "Blocker", nil)
	}
	for k := 1; k <= 3; k++ {
		h.clk.Set(schedT0.Add(time.Duration(k) * m))
		for _, p := range engine.OverlapPolicies {
			h.at(string(p), time.Duration(k)*m)
		}
		if k == 2 {
			// cancel_other asked the first run to cancel: it closes, and the
			// buffered fire starts
			h.waitStatus(fireID("cancel_other", m), engine.StatusCanceled)
			h.waitFor("cancel_other's second run", func() bool { return len(h.runs("cancel_other")) == 2 })
		}
	}
	h.wantRuns("skip", fireID("skip", m))
	h.wantRuns("buffer_one", fireID("buffer_one", m))
	h.wantRuns("buffer_all", fireID("buffer_all", m))
	h.wantRuns("allow_all", fireID("allow_all", m), fireID("allow_all", 2*m), fireID("allow_all", 3*m))
	h.wantRuns("terminate_other", fireID("terminate_other", m), fireID("terminate_other", 2*m), fireID("terminate_other", 3*m))
	for _, k := range []time.Duration{m, 2 * m} {
		if s := h.status(fireID("terminate_other", k)); s != engine.StatusTerminated {
			t.Fatalf("terminate_other's run at %s is %s", k, s)
		}
	}
	h.waitStatus(fireID("cancel_other", 2*m), engine.StatusCanceled)
	h.waitFor("cancel_other's third run", func() bool { return len(h.runs("cancel_other")) == 3 })

	// Close the first run of each buffering schedule: buffer_one starts the
	// one fire it kept (the second), buffer_all the second, then the third.
	for _, p := range []string{"buffer_one", "buffer_all", "skip"} {
		must(h.client.Terminate(h.ctx, fireID(p, m), "", "test"))
	}
	h.waitFor("buffer_one's buffered fire", func() bool { return len(h.runs("buffer_one")) == 2 })
	h.waitFor("buffer_all's first buffered fire", func() bool { return len(h.runs("buffer_all")) == 2 })
	h.wantRuns("buffer_one", fireID("buffer_one", m), fireID("buffer_one", 2*m))
	must(h.client.Terminate(h.ctx, fireID("buffer_all", 2*m), "", "test"))
	h.waitFor("buffer_all's second buffered fire", func() bool { return len(h.runs("buffer_all")) == 3 })
	h.wantRuns("buffer_all", fireID("buffer_all", m), fireID("buffer_all", 2*m), fireID("buffer_all", 3*m))
	// skip starts again at the next fire once nothing is open
	h.at("skip", 4*m)
	h.wantRuns("skip", fireID("skip", m), fireID("skip", 4*m))
	d, err := h.client.Schedules().Describe(h.ctx, "skip")
	must(err)
	if d.Skipped != 2 {
		t.Fatalf("skip skipped %d fires, want 2", d.Skipped)
	}
}

// A backfill fires the spec's times in the range with its own overlap
// policy; backfilling the range again starts nothing twice.
func TestScheduleBackfill(t *testing.T) {
	h := newSchedHarness(t)
	h.create("bf", engine.OverlapSkip, "Quick", func(s *engine.Schedule) {
		s.Spec = engine.ScheduleSpec{Cron: []string{"0 * * * *"}} // hourly
	})
	h.clk.Set(schedT0.Add(10 * time.Minute))
	req := engine.BackfillRequest{Start: schedT0.Add(-3 * time.Hour), End: schedT0.Add(-time.Hour), Overlap: engine.OverlapAllowAll}
	n, err := h.client.Schedules().Backfill(h.ctx, "bf", req)
	must(err)
	want := []string{fireID("bf", -3*time.Hour), fireID("bf", -2*time.Hour), fireID("bf", -time.Hour)}
	if n != 3 {
		t.Fatalf("backfill decided %d fires, want 3", n)
	}
	h.wantRuns("bf", want...)
	n, err = h.client.Schedules().Backfill(h.ctx, "bf", req)
	must(err)
	h.wantRuns("bf", want...)
	d, err := h.client.Schedules().Describe(h.ctx, "bf")
	must(err)
	if n != 3 || d.Actions != 6 || len(d.Pending) != 0 {
		// the second backfill found every run started: counted, not doubled
		t.Fatalf("second backfill: %d fires, %d actions, pending %v", n, d.Actions, d.Pending)
	}
	if _, err := h.client.Schedules().Backfill(h.ctx, "bf", engine.BackfillRequest{Start: schedT0, End: schedT0.Add(-time.Hour)}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("backfill of an inverted range: %v", err)
	}
}

// Fires missed while no engine ran start when the engines come back if
// they are within the catch-up window, and are counted as missed if not.
func TestScheduleCatchupWindow(t *testing.T) {
	h := newSchedHarness(t)
	h.create("cu", engine.OverlapAllowAll, "Quick", func(s *engine.Schedule) {
		s.CatchupWindow = engine.Duration(90 * time.Second)
	})
	h.stop() // every engine down
	h.clk.Set(schedT0.Add(5 * time.Minute))
	h.startScheduler()
	var d *engine.ScheduleDescription
	h.waitFor("the catch-up", func() bool {
		var err error
		d, err = h.client.Schedules().Describe(h.ctx, "cu")
		return err == nil && d.Actions == 2
	})
	h.wantRuns("cu", fireID("cu", 4*time.Minute), fireID("cu", 5*time.Minute))
	if d.Missed != 3 || d.Actions != 2 {
		t.Fatalf("missed %d, actions %d; want 3 missed, 2 started", d.Missed, d.Actions)
	}
}

// A scheduled workflow that continues as new: its later runs carry the
// schedule, and the schedule counts the chain as open (skip).
func TestScheduleContinueAsNew(t *testing.T) {
	h := newSchedHarness(t)
	h.create("can", engine.OverlapSkip, "Chain", func(s *engine.Schedule) {
		s.Action.Input = []byte(`0`)
	})
	h.at("can", time.Minute)
	wf := fireID("can", time.Minute)
	var x *engine.Execution
	h.waitFor("the chain's third run", func() bool {
		var err error
		x, err = h.client.Describe(h.ctx, wf, "")
		return err == nil && string(x.Input) == "2" && len(x.Timers) == 1
	})
	if x.ScheduledBy != "can" || !x.ScheduledStartTime.Equal(schedT0.Add(time.Minute)) {
		t.Fatalf("the continued run is scheduled by %q at %s", x.ScheduledBy, x.ScheduledStartTime)
	}
	d := h.at("can", 2*time.Minute)
	if d.Skipped != 1 || len(d.Running) != 1 {
		t.Fatalf("second fire with the chain open: skipped %d, running %v", d.Skipped, d.Running)
	}
	h.wantRuns("can", wf)
}

// Pause stops the fires (with a note), unpause resumes from now, trigger
// fires at once, delete ends the schedule.
func TestSchedulePauseTriggerDelete(t *testing.T) {
	h := newSchedHarness(t)
	h.create("pt", engine.OverlapAllowAll, "Quick", nil)
	sc := h.client.Schedules()
	must(sc.Pause(h.ctx, "pt", "maintenance"))
	h.clk.Set(schedT0.Add(3 * time.Minute))
	time.Sleep(50 * time.Millisecond)
	d, err := sc.Describe(h.ctx, "pt")
	must(err)
	if !d.Schedule.Paused || d.Schedule.Note != "maintenance" || len(d.NextFires) != 0 {
		t.Fatalf("paused schedule: %+v", d.Schedule)
	}
	h.wantRuns("pt")
	res, err := sc.Trigger(h.ctx, "pt", engine.TriggerRequest{})
	must(err)
	if res.Outcome != engine.FireStarted || res.RunID == "" {
		t.Fatalf("trigger: %+v", res)
	}
	must(sc.Unpause(h.ctx, "pt", "done"))
	h.at("pt", 4*time.Minute)
	h.wantRuns("pt", fireID("pt", 3*time.Minute), fireID("pt", 4*time.Minute))
	must(sc.Delete(h.ctx, "pt"))
	if _, err := sc.Describe(h.ctx, "pt"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("describe after delete: %v", err)
	}
	if err := sc.Create(h.ctx, engine.Schedule{ID: "bad id"}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("create with a bad id: %v", err)
	}
}
