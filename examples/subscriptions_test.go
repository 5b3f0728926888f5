package examples_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

func TestSubscriptionRenewal(t *testing.T) {
	e := newEnv(t)

	// Renewals tick on durable timers; after RenewalsPerRun the workflow
	// continues as new; the cancel signal ends it cleanly wherever it is.
	// On the test clock: three 30-day periods pass in milliseconds.
	t.Run("renews, continues as new, and stops on cancel", func(t *testing.T) {
		t.Parallel()
		e := newClockEnv(t)
		in := examples.SubscriptionInput{SubscriptionID: "S1", Customer: "ana", Amount: 49, RenewalsPerRun: 2}
		e.start(t, "sub-S1", examples.BillingQueue, examples.SubscriptionRenewal, in)
		first := e.describe(t, "sub-S1").RunID
		e.clock.Advance(3 * examples.DefaultRenewalPeriod)
		// The run that continues the first one.
		e.waitFor(t, "sub-S1", func() error {
			x, err := e.client.Describe(e.ctx, "sub-S1", "")
			if err != nil {
				return err
			}
			var cur examples.SubscriptionInput
			_ = json.Unmarshal(x.Input, &cur)
			if x.RunID == first || cur.Renewed < 2 {
				return fmt.Errorf("run %s started after %d renewals, want a later run after 2 or more", x.RunID, cur.Renewed)
			}
			return nil
		})
		if err := e.client.Signal(e.ctx, "sub-S1", "", examples.SignalCancelSubscription, examples.CancelRequest{Reason: "moving to a competitor"}); err != nil {
			t.Fatal(err)
		}
		var res examples.SubscriptionResult
		e.mustResult(t, "sub-S1", &res) // follows the chain of runs to the last
		if res.Ended != "canceled" || res.Reason != "moving to a competitor" || res.Renewals != 3 ||
			res.LastInvoice != fmt.Sprintf("INV-S1-%d", res.Renewals) {
			t.Fatalf("result %+v", res)
		}
		x := e.describe(t, "sub-S1")
		if x.Status != engine.StatusCompleted || x.StatusLine != fmt.Sprintf("canceled after %d renewal(s): moving to a competitor", res.Renewals) {
			t.Fatalf("last run %s %q", x.Status, x.StatusLine)
		}
		if acts := activities(e.history(t, "sub-S1")); acts[len(acts)-1] != "ConfirmCancellation" {
			t.Fatalf("last run's activities %v, want the cancellation confirmed", acts)
		}
		prev, err := e.client.Describe(e.ctx, "sub-S1", first)
		if err != nil || prev.Status != engine.StatusContinuedAsNew {
			t.Fatalf("first run: %+v %v", prev, err)
		}
	})

	// A cancel during a long sleep cancels the timer: no waiting a period.
	t.Run("cancel during a month-long sleep", func(t *testing.T) {
		t.Parallel()
		in := examples.SubscriptionInput{SubscriptionID: "S2", Customer: "bruno", Amount: 9}
		e.start(t, "sub-S2", examples.BillingQueue, examples.SubscriptionRenewal, in)
		e.waitFor(t, "sub-S2", func() error {
			if x := e.describe(t, "sub-S2"); len(x.Timers) != 1 {
				return fmt.Errorf("timers %+v", x.Timers)
			}
			return nil
		})
		if x := e.describe(t, "sub-S2"); x.Timers[0].FireAt.Sub(x.StartTime) < examples.DefaultRenewalPeriod-time.Minute ||
			!strings.HasPrefix(x.StatusLine, "active, renewed 0 times; next renewal ") {
			t.Fatalf("timer fires at %s, want a period of %s after %s; status %q", x.Timers[0].FireAt, examples.DefaultRenewalPeriod, x.StartTime, x.StatusLine)
		}
		// A payload of the wrong shape is tolerated: the run must not wedge.
		if err := e.client.Signal(e.ctx, "sub-S2", "", examples.SignalCancelSubscription, []int{1, 2}); err != nil {
			t.Fatal(err)
		}
		var res examples.SubscriptionResult
		e.mustResult(t, "sub-S2", &res)
		if res.Ended != "canceled" || res.Reason != "canceled on request (unreadable payload [1,2])" || res.Renewals != 0 {
			t.Fatalf("result %+v", res)
		}
		if n := countEvents(e.history(t, "sub-S2"), engine.EventTimerCanceled); n != 1 {
			t.Fatalf("%d timers cancelled, want 1", n)
		}
	})

	t.Run("a bare reason string cancels too", func(t *testing.T) {
		t.Parallel()
		e.start(t, "sub-S5", examples.BillingQueue, examples.SubscriptionRenewal, examples.SubscriptionInput{SubscriptionID: "S5", Amount: 9})
		if err := e.client.Signal(e.ctx, "sub-S5", "", examples.SignalCancelSubscription, "too expensive"); err != nil {
			t.Fatal(err)
		}
		var res examples.SubscriptionResult
		e.mustResult(t, "sub-S5", &res)
		if res.Ended != "canceled" || res.Reason != "too expensive" {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("ends after max renewals", func(t *testing.T) {
		t.Parallel()
		e := newClockEnv(t)
		in := examples.SubscriptionInput{SubscriptionID: "S3", Customer: "chen", Amount: 5, MaxRenewals: 3}
		e.start(t, "sub-S3", examples.BillingQueue, examples.SubscriptionRenewal, in)
		var res examples.SubscriptionResult
		e.mustResult(t, "sub-S3", &res)
		if res != (examples.SubscriptionResult{SubscriptionID: "S3", Renewals: 3, LastInvoice: "INV-S3-3", Ended: "completed"}) {
			t.Fatalf("result %+v", res)
		}
		if x := e.describe(t, "sub-S3"); x.Progress == nil || *x.Progress != (engine.Progress{Done: 3, Total: 3}) {
			t.Fatalf("progress %+v", x.Progress)
		}
		events := e.history(t, "sub-S3")
		if d := events[len(events)-1].Time.Sub(events[0].Time); d != 3*examples.DefaultRenewalPeriod {
			t.Fatalf("ended %s after the start, want three periods", d)
		}
	})

	t.Run("bad input fails with a clear error", func(t *testing.T) {
		t.Parallel()
		e.start(t, "sub-bad", examples.BillingQueue, examples.SubscriptionRenewal, examples.SubscriptionInput{SubscriptionID: "S4"})
		app := wantAppError(t, e.result(t, "sub-bad", nil), "BadInput")
		if app.Message != "subscription: amount must be positive, got 0" {
			t.Fatalf("message %q", app.Message)
		}
	})
}
