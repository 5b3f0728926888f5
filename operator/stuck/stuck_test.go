package stuck_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/indextest"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/operator/stuck"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// fixture writes stuck runs of every cause the index knows today, and
// runs that are not stuck, an hour old unless said otherwise.
func fixture(t *testing.T) (*indextest.Index, stuck.Source) {
	store, _ := jstest.Start(t)
	ix := indextest.Start(t, store, t.TempDir())
	hour := time.Now().Add(-time.Hour)
	ev := indextest.Ev
	taskFailed := func(code string) engine.Event {
		return ev(engine.EventWorkflowTaskFailed, &engine.WorkflowTaskFailed{Code: code, Message: "boom", Attempt: 3})
	}
	retrying := func(act, errType string) []engine.Event {
		return []engine.Event{
			ev(engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
			ev(engine.EventActivityScheduled, &engine.ActivityScheduled{Seq: 1, ActivityType: act, TaskQueue: "orders"}),
			ev(engine.EventActivityAttemptFailed, &engine.ActivityAttemptFailed{Seq: 1, Attempt: 4,
				Failure: &engine.Failure{Type: errType, Message: "no"}, NextAttempt: time.Now().Add(time.Hour)}),
		}
	}
	approval := func(name string) []engine.Event {
		return []engine.Event{ev(engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
			ev(engine.EventApprovalRequested, &engine.ApprovalRequested{Seq: 1, Name: name})}
	}
	timer := []engine.Event{ev(engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{}),
		ev(engine.EventTimerStarted, &engine.TimerStarted{Seq: 1, Duration: 48 * time.Hour, FireAt: time.Now().Add(47 * time.Hour)})}
	runs := []indextest.Run{
		{ID: "nondet-1", Queue: "orders", Events: []engine.Event{taskFailed(engine.CodeNonDeterminism)}},
		{ID: "nondet-2", Queue: "orders", Events: []engine.Event{taskFailed(engine.CodeNonDeterminism)}},
		{ID: "panic-1", Queue: "orders", Events: []engine.Event{taskFailed(engine.CodeWorkflowPanic)}},
		{ID: "charge-1", Queue: "orders", Events: retrying("Charge", "CardDeclined")},
		{ID: "charge-2", Queue: "orders", Events: retrying("Charge", "CardDeclined")},
		{ID: "charge-3", Queue: "orders", Events: retrying("Charge", "GatewayTimeout")},
		{ID: "ship-1", Queue: "orders", Events: retrying("Ship", "NoCarrier")},
		// Failed with CardDeclined before, with GatewayTimeout now: it is
		// in the GatewayTimeout group only.
		{ID: "charge-4", Queue: "orders", Events: append(retrying("Charge", "CardDeclined"),
			ev(engine.EventActivityAttemptFailed, &engine.ActivityAttemptFailed{Seq: 1, Attempt: 5,
				Failure: &engine.Failure{Type: "GatewayTimeout", Message: "slow"}, NextAttempt: time.Now().Add(time.Hour)}))},
		{ID: "manager-1", Queue: "orders", Events: approval("manager")},
		{ID: "manager-2", Queue: "orders", Events: approval("manager")},
		{ID: "ghost-1", Queue: "ghost", Events: timer},
		{ID: "ghost-2", Queue: "ghost", Events: retrying("Charge", "CardDeclined")},
		{ID: "sleep-1", Queue: "orders", Events: timer},
		// Not stuck: recent, or closed.
		{ID: "fresh-1", Queue: "orders", At: time.Now(), Events: retrying("Charge", "CardDeclined")},
		{ID: "fresh-2", Queue: "orders", At: time.Now(), Events: approval("manager")},
		{ID: "done-1", Queue: "orders", Closed: true, Events: []engine.Event{ev(engine.EventWorkflowFailed, &engine.WorkflowFailed{Seq: 1, Failure: &engine.Failure{Type: "X", Message: "x"}})}},
	}
	for _, r := range runs {
		if r.At.IsZero() {
			r.At = hour
		}
		indextest.Write(t, store, r)
	}
	ix.CatchUp(t)
	src := stuck.Source{Search: ix.Search, Count: ix.Count,
		Queues: func(context.Context) ([]searchapi.QueueHealth, error) {
			return []searchapi.QueueHealth{{Queue: "orders", WorkflowPollers: 1, ActivityPollers: 1}}, nil
		}}
	return ix, src
}

// The diagnosis groups a fixture of stuck runs by cause, with the right
// counts, and each group's query selects exactly its runs.
func TestDiagnosisGroupsStuckRunsByCause(t *testing.T) {
	ix, src := fixture(t)
	ctx := context.Background()
	d, err := stuck.Diagnose(ctx, src, stuck.Options{After: 10 * time.Minute, PersonAfter: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range d.Groups {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%s|%d|%s", g.Cause, g.Activity, g.ErrorType, g.Queue, g.Approval, g.Count, g.Action))
	}
	want := []string{
		"nondeterminism|||||2|reset",
		"task_failure||FM1002|||1|reset",
		"no_worker|||ghost||2|",
		"retrying|Charge|CardDeclined|||2|activity-retry",
		"retrying|Charge|GatewayTimeout|||2|activity-retry",
		"retrying|Ship|NoCarrier|||1|activity-retry",
		"waiting_on_person||||manager|2|approve",
		"no_progress|||||1|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d.Total != 13 {
		t.Errorf("total %d, want 13", d.Total)
	}
	// A batch over a group's query acts on the group's runs and no other.
	for _, g := range d.Groups {
		res, err := ix.Search(ctx, searchapi.SearchRequest{Query: g.Query, Size: 100})
		if err != nil {
			t.Fatalf("%s: query %q: %v", g.Title, g.Query, err)
		}
		if uint64(len(res.Hits)) != g.Count {
			var ids []string
			for _, h := range res.Hits {
				ids = append(ids, h.WorkflowID)
			}
			sort.Strings(ids)
			t.Errorf("%s: query %q selects %v, want %d runs", g.Title, g.Query, ids, g.Count)
		}
		if g.Action != "" && !strings.Contains(g.Command, shellQuoted(g.Query)) {
			t.Errorf("%s: command %q does not act on the group's query", g.Title, g.Command)
		}
	}
	// Without the engine's queue health nothing is blamed on workers: the
	// ghost queue's runs fall back to their own causes.
	src.Queues = nil
	d, err = stuck.Diagnose(ctx, src, stuck.Options{After: 10 * time.Minute, PersonAfter: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range d.Groups {
		if g.Cause == stuck.NoWorker {
			t.Errorf("no_worker group without queue health: %+v", g)
		}
		if g.Cause == stuck.Retrying && g.Activity == "Charge" && g.ErrorType == "CardDeclined" && g.Count != 3 {
			t.Errorf("Charge/CardDeclined: %d runs, want 3 (ghost-2 joins)", g.Count)
		}
	}
	// A scope narrows every group.
	d, err = stuck.Diagnose(ctx, src, stuck.Options{After: 10 * time.Minute, Scope: "workflow_id:charge-*"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Total != 4 || len(d.Groups) != 2 {
		t.Errorf("scoped to charge-*: %d runs in %d groups, want 4 in 2: %+v", d.Total, len(d.Groups), d.Groups)
	}
}

func shellQuoted(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Pause's fields (dead_lettered, paused) are not in this index yet: their
// groups are empty, not an error. Once pause lands, TestDiagnosisDeadLetters
// in package notify's tests covers them.
func TestDiagnosisWithoutPauseFields(t *testing.T) {
	_, src := fixture(t)
	d, err := stuck.Diagnose(context.Background(), src, stuck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range d.Groups {
		if g.Cause == stuck.DeadLettered || g.Cause == stuck.Paused {
			t.Errorf("group %+v without pause's fields", g)
		}
	}
}
