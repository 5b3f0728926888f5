package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// The audit trail reads back in order, a retried append (same message id)
// lands once, and --follow brings records appended later.
func TestAuditTrail(t *testing.T) {
	s, _ := jstest.Start(t)
	ctx := context.Background()
	if err := s.EnableAudit(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	for i, r := range []audit.Record{{Principal: "alice", Action: "approve", Outcome: audit.OK}, {Principal: "vera", Action: "terminate", Outcome: audit.Refused, Why: "permission denied"}} {
		for range 2 {
			if err := s.AppendAudit(ctx, r, "rec-"+string(rune('a'+i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []audit.Record
	if err := s.ReadAudit(ctx, false, func(r audit.Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Principal != "alice" || got[1].Outcome != audit.Refused || !got[1].Matches("outcome=refused vera") || got[0].Matches("outcome=refused") {
		t.Fatalf("read %+v", got)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	seen := make(chan audit.Record, 4)
	done := make(chan error, 1)
	go func() {
		done <- s.ReadAudit(fctx, true, func(r audit.Record) error { seen <- r; return nil })
	}()
	for range 2 {
		<-seen
	}
	if err := s.AppendAudit(ctx, audit.Record{Principal: "bob", Action: "signal", Outcome: audit.OK}, ""); err != nil {
		t.Fatal(err)
	}
	if r := <-seen; r.Principal != "bob" {
		t.Fatalf("follow brought %+v, want bob's record", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v", err)
	}
}
