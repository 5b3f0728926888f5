package crashtest

import (
	"context"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/crashtest/flow"
)

// An update accepted just before a kill -9 of the host (engine, NATS and
// worker in one process) completes exactly once after the restart: the
// caller asking again with the same update id gets its result, the
// handler's count shows it ran once, and history holds one acceptance and
// one completion.
func TestUpdateSurvivesKill(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := r.c.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.Start(ctx, engine.StartOptions{ID: "upd-1", TaskQueue: flow.Queue}, flow.Counter, nil); err != nil {
		t.Fatal(err)
	}
	acc, err := s.client.Update(ctx, "upd-1", "", "bump", nil, engine.UpdateOptions{UpdateID: "u1", WaitFor: engine.WaitForAccepted})
	if err != nil || acc.Stage != engine.WaitForAccepted {
		t.Fatalf("update accepted: %+v %v", acc, err)
	}
	// the handler waits on Slow (1.5 s): kill now, between accept and complete
	r.restart(r.kill("after accept", "update u1 accepted"))
	s, err = r.c.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.client.Update(ctx, "upd-1", "", "bump", nil, engine.UpdateOptions{UpdateID: "u1"})
	if err != nil || string(res.Result) != "1" {
		t.Fatalf("u1 after the restart: %+v %v", res, err)
	}
	res, err = s.client.Update(ctx, "upd-1", "", "bump", nil, engine.UpdateOptions{UpdateID: "u2"})
	if err != nil || string(res.Result) != "2" {
		t.Fatalf("u2: %+v %v (the handler of u1 ran other than once)", res, err)
	}
	if err := s.client.Signal(ctx, "upd-1", "", "stop", nil); err != nil {
		t.Fatal(err)
	}
	var count int
	if err := s.client.GetResult(ctx, "upd-1", "", &count); err != nil || count != 2 {
		t.Fatalf("result %d, %v: want 2", count, err)
	}
	events, err := s.client.History(ctx, "upd-1", "")
	if err != nil {
		t.Fatal(err)
	}
	acceptedU1, completedU1 := 0, 0
	for _, e := range events {
		switch a := e.Attrs.(type) {
		case *engine.UpdateAccepted:
			if a.UpdateID == "u1" {
				acceptedU1++
			}
		case *engine.UpdateCompleted:
			if a.UpdateID == "u1" {
				completedU1++
			}
		}
	}
	if acceptedU1 != 1 || completedU1 != 1 {
		t.Fatalf("u1 accepted %d and completed %d times, want once each:\n%s", acceptedU1, completedU1, dumpHistory(events))
	}
}
