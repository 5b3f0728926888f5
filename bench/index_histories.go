package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
)

// Synthetic but realistic histories for the index benchmark, written
// straight into JetStream through the store's AppendHistory (the engine's
// own write path: one message per batch, optimistic concurrency per run),
// so that the measured indexer reads, decodes and folds them exactly as it
// reads real ones. Running a million workflows through the engine would
// take the better part of an hour here; these batches hold the events the
// engine writes for the same workflows (order, expense approval, document
// ingestion, subscription), in the same batch structure: the start, then
// one batch per workflow task (the inbound activity results or signals, the
// commands, WorkflowTaskCompleted), external batches for signals and
// operator actions. Batches of different runs interleave in the stream as
// with ~500 runs in flight.
//
// The batches carry neither Wake nor Derive: the engine's dispatcher,
// running in the same deployment, reads and acknowledges them without
// creating tasks for runs no worker serves.

// synthBatch is one history message of a synthetic run.
type synthBatch struct {
	kind   engine.BatchKind
	events []engine.Event
}

type synthRun struct {
	runID, workflowID, queue string
	batches                  []synthBatch
}

// synthMix is how runs end up: most complete, some fail, some wait.
type synthShape int

const (
	shapeOrderOK synthShape = iota
	shapeOrderDeclined
	shapeOrderAwaitingApproval
	shapeOrderRetrying
	shapeExpenseApproved
	shapeIngestRunning
	shapeIngestDone
	shapeSubscriptionSleeping
	shapeTerminated
)

// pickShape draws a shape: 52% orders completed, 10% declined cards, 8%
// orders waiting for a manager, 4% retrying a carrier, 8% expenses
// approved, 6% ingestions running, 6% done, 4% subscriptions sleeping, 2%
// terminated.
func pickShape(r *rand.Rand) synthShape {
	p := r.IntN(100)
	for _, c := range []struct {
		upTo  int
		shape synthShape
	}{{52, shapeOrderOK}, {62, shapeOrderDeclined}, {70, shapeOrderAwaitingApproval}, {74, shapeOrderRetrying},
		{82, shapeExpenseApproved}, {88, shapeIngestRunning}, {94, shapeIngestDone}, {98, shapeSubscriptionSleeping}} {
		if p < c.upTo {
			return c.shape
		}
	}
	return shapeTerminated
}

var (
	synthRegions   = []string{"eu-west", "eu-central", "us-east", "us-west", "ap-south"}
	synthCustomers = 50_000
)

// synthBuilder appends events with ids and times.
type synthBuilder struct {
	run     *synthRun
	id      int64
	t       time.Time
	seq     int64
	pending []engine.Event
	r       *rand.Rand
}

func (b *synthBuilder) ev(typ engine.EventType, attrs any) {
	b.id++
	b.t = b.t.Add(time.Duration(1+b.r.IntN(40)) * time.Millisecond)
	b.pending = append(b.pending, engine.Event{ID: b.id, Type: typ, Time: b.t, Attrs: attrs})
}

func (b *synthBuilder) nextSeq() int64 { b.seq++; return b.seq }

// flush ends a batch; a task batch ends with WorkflowTaskCompleted.
func (b *synthBuilder) flush(kind engine.BatchKind) {
	if kind == engine.BatchTask {
		b.ev(engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{Identity: "worker-1@host-a"})
	}
	b.run.batches = append(b.run.batches, synthBatch{kind: kind, events: b.pending})
	b.pending = nil
}

func (b *synthBuilder) wait(d time.Duration) { b.t = b.t.Add(d) }

func (b *synthBuilder) activity(typ, queue string, input any) int64 {
	seq := b.nextSeq()
	in, _ := json.Marshal(input)
	b.ev(engine.EventActivityScheduled, &engine.ActivityScheduled{Seq: seq, ActivityType: typ, TaskQueue: queue, Input: in,
		Options: engine.ActivityOptions{StartToCloseTimeout: 30 * time.Second}})
	return seq
}

func (b *synthBuilder) status(text string) {
	b.ev(engine.EventStatusSet, &engine.StatusSet{Seq: b.nextSeq(), Text: text})
}

func (b *synthBuilder) progress(done, total int64) {
	b.ev(engine.EventProgressSet, &engine.ProgressSet{Seq: b.nextSeq(), Done: done, Total: total})
}

// genRun builds run n's history, started at start.
func genRun(r *rand.Rand, n int, start time.Time) *synthRun {
	shape := pickShape(r)
	run := &synthRun{runID: fmt.Sprintf("%016x-%04x", r.Uint64(), n&0xffff)}
	b := &synthBuilder{run: run, t: start, r: r}
	customer := fmt.Sprintf("cust-%05d", r.IntN(synthCustomers))
	region := synthRegions[r.IntN(len(synthRegions))]
	amount := float64(r.IntN(300000))/100 + 0.99
	started := func(prefix, typ, queue string, input any) {
		run.workflowID, run.queue = fmt.Sprintf("%s-%07d", prefix, n), queue
		in, _ := json.Marshal(input)
		b.ev(engine.EventWorkflowStarted, &engine.WorkflowStarted{WorkflowID: run.workflowID, RunID: run.runID,
			WorkflowType: typ, TaskQueue: queue, Input: in, Identity: "api-gateway"})
		b.flush(engine.BatchExternal)
	}
	completed := func(seq int64, result any) {
		res, _ := json.Marshal(result)
		b.ev(engine.EventActivityCompleted, &engine.ActivityCompleted{Seq: seq, Attempt: 1, Result: res})
	}

	switch shape {
	case shapeOrderOK, shapeOrderDeclined, shapeOrderAwaitingApproval, shapeOrderRetrying, shapeTerminated:
		order := map[string]any{"order_id": fmt.Sprintf("%07d", n), "customer": customer, "amount": amount,
			"items": []map[string]any{{"sku": fmt.Sprintf("SKU-%04d", r.IntN(5000)), "qty": 1 + r.IntN(3)}}}
		started("order", "OrderFulfillment", "orders", order)
		b.ev(engine.EventSearchAttributesUpserted, &engine.SearchAttributesUpserted{Seq: b.nextSeq(), Attributes: map[string]engine.SearchAttribute{
			"CustomerId": engine.Keyword(customer), "Region": engine.Keyword(region), "Amount": engine.Float(amount)}})
		b.status("reserving inventory")
		a1 := b.activity("ReserveInventory", "orders", order)
		b.flush(engine.BatchTask)
		if shape == shapeTerminated {
			b.wait(time.Duration(r.IntN(3600)) * time.Second)
			b.ev(engine.EventWorkflowTerminated, &engine.WorkflowTerminated{Reason: "customer cancelled by phone", Identity: "ops-" + region})
			b.flush(engine.BatchExternal)
			break
		}
		completed(a1, nil)
		b.progress(1, 3)
		b.status("charging payment")
		a2 := b.activity("ChargePayment", "orders", order)
		b.flush(engine.BatchTask)
		if shape == shapeOrderDeclined {
			f := &engine.Failure{Type: "CardDeclined", Message: fmt.Sprintf("card declined for order %07d: insufficient funds", n), NonRetryable: true}
			b.ev(engine.EventActivityFailed, &engine.ActivityFailed{Seq: a2, Attempt: 1, Failure: f})
			b.ev(engine.EventWorkflowFailed, &engine.WorkflowFailed{Seq: b.nextSeq(), Failure: &engine.Failure{Type: "CardDeclined",
				Message: "activity ChargePayment failed after 1 attempt(s): " + f.Message}})
			b.flush(engine.BatchTask)
			break
		}
		completed(a2, map[string]string{"payment_id": fmt.Sprintf("PAY-%07d", n)})
		b.progress(2, 3)
		if shape == shapeOrderAwaitingApproval {
			b.status("waiting for manager approval")
			b.ev(engine.EventApprovalRequested, &engine.ApprovalRequested{Seq: b.nextSeq(), Name: "manager",
				Description: fmt.Sprintf("order %07d of %.2f", n, amount), Timeout: 72 * time.Hour})
			b.flush(engine.BatchTask)
			break
		}
		b.status("shipping")
		a3 := b.activity("Ship", "orders", order)
		b.flush(engine.BatchTask)
		if shape == shapeOrderRetrying {
			b.ev(engine.EventActivityAttemptFailed, &engine.ActivityAttemptFailed{Seq: a3, Attempt: 1,
				Failure:     &engine.Failure{Type: "CarrierUnavailable", Message: "carrier unavailable: connection refused"},
				NextAttempt: b.t.Add(2 * time.Second)})
			b.flush(engine.BatchExternal)
			break
		}
		tracking := fmt.Sprintf("TRK-%07d", n)
		completed(a3, tracking)
		b.progress(3, 3)
		b.status("shipped " + tracking)
		res, _ := json.Marshal(tracking)
		b.ev(engine.EventWorkflowCompleted, &engine.WorkflowCompleted{Seq: b.nextSeq(), Result: res})
		b.flush(engine.BatchTask)

	case shapeExpenseApproved:
		exp := map[string]any{"expense_id": fmt.Sprintf("%07d", n), "employee": customer, "amount": amount, "category": "travel"}
		started("expense", "ExpenseApproval", "approvals", exp)
		b.status("waiting for a manager")
		seq := b.nextSeq()
		b.ev(engine.EventApprovalRequested, &engine.ApprovalRequested{Seq: seq, Name: "manager", Description: fmt.Sprintf("expense %07d", n)})
		b.flush(engine.BatchTask)
		b.wait(time.Duration(r.IntN(7200)) * time.Second)
		b.ev(engine.EventApprovalDecided, &engine.ApprovalDecided{Seq: seq, Name: "manager", Approved: true, By: "manager-" + region, Comment: "ok, within budget"})
		b.flush(engine.BatchExternal)
		a := b.activity("PayExpense", "approvals", exp)
		b.flush(engine.BatchTask)
		completed(a, map[string]string{"payment": fmt.Sprintf("PAY-E%07d", n)})
		b.progress(2, 2)
		b.status("paid")
		b.ev(engine.EventWorkflowCompleted, &engine.WorkflowCompleted{Seq: b.nextSeq(), Result: json.RawMessage(`"paid"`)})
		b.flush(engine.BatchTask)

	case shapeIngestRunning, shapeIngestDone:
		pages := 10 + r.IntN(90)
		doc := map[string]any{"document": fmt.Sprintf("s3://docs/%07d.pdf", n), "pages": pages}
		started("ingest", "DocumentIngestion", "ingestion", doc)
		a := b.activity("FetchDocument", "ingestion", doc)
		b.flush(engine.BatchTask)
		b.ev(engine.EventSignalReceived, &engine.SignalReceived{Name: "priority", Payload: json.RawMessage(`{"level":"high"}`), Identity: "ops-" + region})
		b.flush(engine.BatchExternal)
		completed(a, nil)
		chunks := (pages + 9) / 10
		if shape == shapeIngestRunning {
			chunks = 1 + r.IntN(chunks)
		}
		for c := range chunks {
			b.progress(int64(c*10), int64(pages))
			b.status(fmt.Sprintf("extracting pages %d-%d of %d", c*10+1, min(c*10+10, pages), pages))
			a = b.activity("ExtractChunk", "ingestion", map[string]int{"from": c*10 + 1})
			b.flush(engine.BatchTask)
			if c < chunks-1 || shape == shapeIngestDone {
				completed(a, nil)
			}
		}
		if shape == shapeIngestDone {
			b.progress(int64(pages), int64(pages))
			b.status("indexed")
			b.ev(engine.EventWorkflowCompleted, &engine.WorkflowCompleted{Seq: b.nextSeq(), Result: json.RawMessage(fmt.Sprintf(`{"pages":%d}`, pages))})
			b.flush(engine.BatchTask)
		}

	case shapeSubscriptionSleeping:
		sub := map[string]any{"subscription": fmt.Sprintf("SUB-%07d", n), "customer": customer, "plan": "pro"}
		started("sub", "SubscriptionRenewal", "subscriptions", sub)
		a := b.activity("ChargeRenewal", "subscriptions", sub)
		b.flush(engine.BatchTask)
		completed(a, nil)
		b.status("active, next renewal in 30 days")
		b.ev(engine.EventTimerStarted, &engine.TimerStarted{Seq: b.nextSeq(), Duration: 30 * 24 * time.Hour, FireAt: b.t.Add(30 * 24 * time.Hour)})
		b.flush(engine.BatchTask)
	}
	return run
}

// encode is batch i of the run as the engine stores it: header and data.
func (run *synthRun) encode(i int) (engine.BatchHeader, []byte, error) {
	sb := run.batches[i]
	data, err := json.Marshal(engine.Batch{Kind: sb.kind, Events: sb.events})
	if err != nil {
		return engine.BatchHeader{}, nil, fmt.Errorf("encoding synthetic history of %s: %w", run.workflowID, err)
	}
	h := engine.BatchHeader{RunID: run.runID, WorkflowID: run.workflowID, TaskQueue: run.queue, Kind: sb.kind,
		FirstEventID: sb.events[0].ID, LastEventID: sb.events[len(sb.events)-1].ID}
	for _, e := range sb.events {
		h.Closed = h.Closed || e.Type.Closes()
	}
	return h, data, nil
}

// synthStart is when synthetic run n of runs starts: the runs are spread
// evenly over the 30 days before now.
func synthStart(now time.Time, n, runs int) time.Time {
	const span = 30 * 24 * time.Hour
	return now.Add(-span).Add(time.Duration(float64(span) * float64(n) / float64(runs+1)))
}

// writeHistories writes runs synthetic runs started as synthStart says
// (give or take a second), from conc writers, each keeping a few runs in
// flight. It returns the last history sequence and the messages written.
func writeHistories(ctx context.Context, st *jetstream.Store, runs, conc int, progress func(done int)) (last uint64, msgs int64, err error) {
	const perWriter = 8
	now := time.Now().UTC()
	var next atomic.Int64
	var written, finished atomic.Int64
	var maxSeq atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	stopProgress := make(chan struct{})
	if progress != nil {
		go func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					progress(int(finished.Load()))
				case <-stopProgress:
					return
				}
			}
		}()
	}
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w)+1, 42))
			type live struct {
				run  *synthRun
				i    int
				last uint64
			}
			var inflight []*live
			for {
				for len(inflight) < perWriter {
					n := int(next.Add(1))
					if n > runs {
						break
					}
					start := synthStart(now, n, runs).Add(time.Duration(r.IntN(1000)) * time.Millisecond)
					inflight = append(inflight, &live{run: genRun(r, n, start)})
				}
				if len(inflight) == 0 {
					return
				}
				keep := inflight[:0]
				for _, l := range inflight {
					h, data, err := l.run.encode(l.i)
					if err != nil {
						errs <- err
						return
					}
					seq, err := st.AppendHistory(ctx, h, data, l.last, "")
					if err != nil {
						errs <- fmt.Errorf("writing synthetic history of %s: %w", l.run.workflowID, err)
						return
					}
					written.Add(1)
					for {
						m := maxSeq.Load()
						if seq <= m || maxSeq.CompareAndSwap(m, seq) {
							break
						}
					}
					l.last = seq
					l.i++
					if l.i < len(l.run.batches) {
						keep = append(keep, l)
					} else {
						finished.Add(1)
					}
				}
				inflight = keep
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	close(errs)
	if err := <-errs; err != nil {
		return 0, written.Load(), err
	}
	return maxSeq.Load(), written.Load(), nil
}
