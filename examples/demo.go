package examples

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// DemoInterval is how often the demo load starts a new execution.
const DemoInterval = 2 * time.Second

// demoMaxFailures is how many starts in a row may fail (the engine
// restarting, say) before Demo gives up and returns the error.
const demoMaxFailures = 10

// Demo keeps a realistic mix of executions of the four examples alive until
// ctx ends: a burst at once, so a console has something to show, then a new
// execution every DemoInterval. A share of orders fails (and is
// compensated), large expenses wait for an operator's approval (some long
// enough to escalate), ingestions retry flaky fetches and crashed chunks
// and sometimes get the priority signal, subscriptions renew every few
// seconds and are sometimes cancelled. It acts only through the client; it
// returns nil when ctx ends, or an error if the engine keeps refusing starts.
func Demo(ctx context.Context, c *engine.Client) error {
	d := &demo{c: c, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed))}
	// The burst: one of everything interesting, at once.
	d.order("charge")
	d.order("")
	d.expense(true)
	d.expense(false)
	d.ingestion(true)
	d.subscription()
	if err := d.flush(ctx); err != nil {
		return err
	}
	t := time.NewTicker(DemoInterval)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		switch i % 8 { // orders are the most common, subscriptions the rarest
		case 0, 3, 6:
			d.order(d.failAt())
		case 1, 5:
			d.expense(d.rng.IntN(5) < 2)
		case 2, 7:
			d.ingestion(d.rng.IntN(2) == 0)
		case 4:
			d.subscription()
		}
		if err := d.flush(ctx); err != nil {
			return err
		}
	}
}

// demo holds the load's state: actions to run (starts now, signals later).
type demo struct {
	c        *engine.Client
	rng      *rand.Rand
	actions  []demoAction
	failures int
	subs     []string // open subscriptions started by this demo, oldest first
}

type demoAction struct {
	at    time.Time
	start *demoStart
	// signal, when start is nil
	workflowID, name string
	payload          any
}

type demoStart struct {
	id, queue string
	workflow  any
	input     any
}

func (d *demo) later(after time.Duration, workflowID, signal string, payload any) {
	d.actions = append(d.actions, demoAction{at: time.Now().Add(after), workflowID: workflowID, name: signal, payload: payload})
}

func (d *demo) now(id, queue string, workflow, input any) {
	d.actions = append(d.actions, demoAction{start: &demoStart{id, queue, workflow, input}})
}

// flush runs the actions that are due. A failed signal is dropped (its run
// may have ended: that is fine); failed starts are counted.
func (d *demo) flush(ctx context.Context) error {
	keep := d.actions[:0]
	for _, a := range d.actions {
		if a.at.After(time.Now()) {
			keep = append(keep, a)
			continue
		}
		if a.start == nil {
			_ = d.c.Signal(ctx, a.workflowID, "", a.name, a.payload)
			continue
		}
		_, err := d.c.Start(ctx, engine.StartOptions{ID: a.start.id, TaskQueue: a.start.queue}, a.start.workflow, a.start.input)
		switch {
		case err == nil || errors.Is(err, engine.ErrAlreadyStarted):
			d.failures = 0
		case ctx.Err() != nil:
			return nil
		default:
			if d.failures++; d.failures >= demoMaxFailures {
				return fmt.Errorf("demo: %d starts failed in a row, the last: %w", d.failures, err)
			}
		}
	}
	d.actions = keep
	return nil
}

// id returns a short random id, so a demo restarted on the same data
// directory does not collide with its earlier runs.
func (d *demo) id() string {
	const digits = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	b := make([]byte, 6)
	for i := range b {
		b[i] = digits[d.rng.IntN(len(digits))]
	}
	return string(b)
}

// failAt picks the forced failure of an order: about one in seven fails
// at charge, as many at ship.
func (d *demo) failAt() string {
	switch d.rng.IntN(7) {
	case 0:
		return "charge"
	case 1:
		return "ship"
	}
	return ""
}

func (d *demo) order(failAt string) {
	in := OrderInput{OrderID: d.id(), Amount: float64(20+d.rng.IntN(900)) + 0.99, FailAt: failAt}
	if d.rng.IntN(10) == 0 { // a large order, waiting for a manager
		in.Amount += OrderApprovalLimit
	}
	d.now("order-"+in.OrderID, OrderQueue, OrderFulfillment, in)
}

// expense starts a small expense or a large one that waits for a manager:
// some managers' timeouts are short enough to watch the escalation; the
// director's bounds how long approvals pile up in a long demo.
func (d *demo) expense(large bool) {
	in := ExpenseInput{ExpenseID: d.id(), Submitter: d.pickName(), Amount: float64(50+d.rng.IntN(900)) + 0.5}
	if large {
		in.Amount = float64(1001 + d.rng.IntN(8000))
		in.ManagerTimeout = Duration(time.Duration(2+d.rng.IntN(13)) * time.Minute)
		in.DirectorTimeout = Duration(15 * time.Minute)
	}
	d.now("expense-"+in.ExpenseID, ExpenseQueue, ExpenseApproval, in)
}

func (d *demo) pickName() string {
	names := []string{"ana", "bruno", "chen", "dara", "emeka", "farah", "goran", "hana"}
	return names[d.rng.IntN(len(names))]
}

// ingestion starts a document ingestion; troubled ones (half of them) have
// a flaky fetch and a chunk that crashes once. A third get the priority
// signal later.
func (d *demo) ingestion(troubled bool) {
	in := IngestInput{DocID: "doc-" + d.id(), Pages: 20 + d.rng.IntN(100), ChunkPages: 10,
		PageTime: Duration(150 * time.Millisecond), Throttle: Duration(2 * time.Second)}
	if troubled {
		in.FlakyAttempts = 1 + d.rng.IntN(3)
		in.CrashAtPage = 1 + d.rng.IntN(in.Pages)
	}
	id := "ingest-" + in.DocID
	d.now(id, IngestQueue, DocumentIngestion, in)
	if d.rng.IntN(3) == 0 {
		d.later(time.Duration(5+d.rng.IntN(20))*time.Second, id, SignalPriority, nil)
	}
}

// subscription starts a subscription renewing every 10–30 s; beyond four
// open ones, the oldest is cancelled. MaxRenewals ends the others in time.
func (d *demo) subscription() {
	in := SubscriptionInput{SubscriptionID: "sub-" + d.id(), Customer: d.pickName(), Plan: "team", Amount: 49,
		Period: Duration(time.Duration(10+d.rng.IntN(20)) * time.Second), MaxRenewals: 20, RenewalsPerRun: 5}
	d.now(in.SubscriptionID, BillingQueue, SubscriptionRenewal, in)
	d.subs = append(d.subs, in.SubscriptionID)
	if len(d.subs) > 4 {
		d.later(0, d.subs[0], SignalCancelSubscription, CancelRequest{Reason: "customer downgraded to the free plan"})
		d.subs = d.subs[1:]
	}
}
