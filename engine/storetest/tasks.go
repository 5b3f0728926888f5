package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

var taskTests = []test{
	{"DeliverAndAck", testDeliverAndAck},
	{"QueuesAreSeparate", testQueuesSeparate},
	{"RepublishIsDeduplicated", testPublishDedupe},
	{"NakRedeliversAfterDelay", testNakDelay},
	{"UnendedRedeliveredAfterAckWait", testRedeliverUnended},
	{"InProgressHoldsTheTask", testInProgress},
	{"MaxInFlight", testMaxInFlight},
	{"CompetingConsumersEachTaskOnce", testCompetingConsumers},
}

// consumeTasks runs ConsumeTasks until the test ends (or stop), sending
// every delivery to the returned channel.
func consumeTasks(t *testing.T, s engine.Store, kind engine.TaskKind, queue string, maxInFlight int) (<-chan engine.Delivery, func() error) {
	t.Helper()
	ch := make(chan engine.Delivery, 1000)
	stop := background(t, func(ctx context.Context) error {
		return s.ConsumeTasks(ctx, kind, queue, maxInFlight, func(d engine.Delivery) { ch <- d })
	})
	return ch, stop
}

func publish(t *testing.T, s engine.Store, kind engine.TaskKind, queue, data, msgID string) {
	t.Helper()
	if err := s.PublishTask(testCtx(t), kind, queue, []byte(data), msgID); err != nil {
		t.Fatalf("publishing %q to %s %s: %v", data, kind, queue, err)
	}
}

func ack(t *testing.T, d engine.Delivery) {
	t.Helper()
	if err := d.Ack(testCtx(t)); err != nil {
		t.Fatalf("ack of %q: %v", d.Data(), err)
	}
}

// waitAckWait skips the test when waiting out the store's redelivery
// deadline would be slow.
func waitAckWait(t *testing.T, d engine.Delivery, max time.Duration) time.Duration {
	t.Helper()
	w := d.AckWait()
	if w <= 0 {
		t.Fatalf("Delivery.AckWait() = %s, want the store's redelivery deadline", w)
	}
	if w > max {
		t.Skipf("the store's AckWait is %s: give it about a second for this test (it waits AckWait several times)", w)
	}
	return w
}

// A published task is delivered with its data, NumDelivered 1; once
// acknowledged it is not delivered again. ConsumeTasks returns ctx.Err()
// when its context ends.
func testDeliverAndAck(t *testing.T, s engine.Store) {
	ch, stop := consumeTasks(t, s, engine.WorkflowTaskKind, "orders", 10)
	for i := range 5 {
		publish(t, s, engine.WorkflowTaskKind, "orders", fmt.Sprintf("task %d", i), "")
		d := receive(t, ch, "task")
		if string(d.Data()) != fmt.Sprintf("task %d", i) || d.NumDelivered() != 1 {
			t.Fatalf("delivered %q NumDelivered %d, want %q the first time", d.Data(), d.NumDelivered(), fmt.Sprintf("task %d", i))
		}
		ack(t, d)
	}
	nothing(t, ch, "acknowledged task again")
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("ConsumeTasks returned %v when its context ended, want context.Canceled", err)
	}
}

// Each (kind, queue) is its own queue.
func testQueuesSeparate(t *testing.T, s engine.Store) {
	wfA, _ := consumeTasks(t, s, engine.WorkflowTaskKind, "a", 10)
	actA, _ := consumeTasks(t, s, engine.ActivityTaskKind, "a", 10)
	wfB, _ := consumeTasks(t, s, engine.WorkflowTaskKind, "b", 10)
	publish(t, s, engine.ActivityTaskKind, "a", "act a", "")
	publish(t, s, engine.WorkflowTaskKind, "b", "wf b", "")
	publish(t, s, engine.WorkflowTaskKind, "a", "wf a", "")
	for ch, want := range map[<-chan engine.Delivery]string{wfA: "wf a", actA: "act a", wfB: "wf b"} {
		d := receive(t, ch, want)
		if string(d.Data()) != want {
			t.Fatalf("queue of %q delivered %q", want, d.Data())
		}
		ack(t, d)
	}
	for _, ch := range []<-chan engine.Delivery{wfA, actA, wfB} {
		nothing(t, ch, "task of another queue")
	}
}

// Publishing again with the same message id (a retried publish) is
// harmless: the task is delivered once.
func testPublishDedupe(t *testing.T, s engine.Store) {
	ch, _ := consumeTasks(t, s, engine.ActivityTaskKind, "pay", 10)
	publish(t, s, engine.ActivityTaskKind, "pay", "charge", "charge-1")
	publish(t, s, engine.ActivityTaskKind, "pay", "charge", "charge-1")
	ack(t, receive(t, ch, "task"))
	nothing(t, ch, "second delivery of a republished task")
}

// A nakked task comes again after the delay and not before, with
// NumDelivered one higher; Nak(0) hands it back at once.
func testNakDelay(t *testing.T, s engine.Store) {
	ch, _ := consumeTasks(t, s, engine.ActivityTaskKind, "retry", 5)
	publish(t, s, engine.ActivityTaskKind, "retry", "job", "")
	d := receive(t, ch, "task")
	const delay = 500 * time.Millisecond
	nakked := time.Now()
	if err := d.Nak(delay); err != nil {
		t.Fatal(err)
	}
	d2 := receive(t, ch, "redelivery")
	if since := time.Since(nakked); since < delay {
		t.Fatalf("redelivered %s after Nak(%s): early", since, delay)
	}
	if string(d2.Data()) != "job" || d2.NumDelivered() != 2 {
		t.Fatalf("redelivered %q NumDelivered %d, want \"job\" and 2", d2.Data(), d2.NumDelivered())
	}
	nakked = time.Now()
	if err := d2.Nak(0); err != nil {
		t.Fatal(err)
	}
	d3 := receive(t, ch, "redelivery after Nak(0)")
	if since := time.Since(nakked); since > d3.AckWait() && since > 2*time.Second {
		t.Fatalf("Nak(0) redelivered after %s, want at once", since)
	}
	if d3.NumDelivered() != 3 {
		t.Fatalf("NumDelivered %d after two naks, want 3", d3.NumDelivered())
	}
	ack(t, d3)
	nothing(t, ch, "acknowledged task again")
}

// A task whose worker died holding it (never acked, nakked or kept in
// progress) is delivered again once its AckWait has passed, to another
// consumer, with NumDelivered 2.
func testRedeliverUnended(t *testing.T, s engine.Store) {
	ch, stop := consumeTasks(t, s, engine.ActivityTaskKind, "crash", 1)
	publish(t, s, engine.ActivityTaskKind, "crash", "job", "")
	d := receive(t, ch, "task")
	delivered := time.Now()
	ackWait := waitAckWait(t, d, 5*time.Second)
	_ = stop() // the worker dies holding the task
	ch2, _ := consumeTasks(t, s, engine.ActivityTaskKind, "crash", 1)
	d2 := receive(t, ch2, "redelivery")
	if since := time.Since(delivered); since < ackWait {
		t.Fatalf("redelivered %s after the first delivery, before AckWait (%s)", since, ackWait)
	}
	if string(d2.Data()) != "job" || d2.NumDelivered() != 2 {
		t.Fatalf("redelivered %q NumDelivered %d, want \"job\" and 2", d2.Data(), d2.NumDelivered())
	}
	ack(t, d2)
}

// InProgress resets the redelivery deadline: a task kept in progress for
// several AckWaits is not delivered to anyone else.
func testInProgress(t *testing.T, s engine.Store) {
	ch, _ := consumeTasks(t, s, engine.ActivityTaskKind, "long", 1)
	publish(t, s, engine.ActivityTaskKind, "long", "job", "")
	d := receive(t, ch, "task")
	ackWait := waitAckWait(t, d, 2*time.Second)
	other, _ := consumeTasks(t, s, engine.ActivityTaskKind, "long", 1)
	for end := time.Now().Add(3 * ackWait); time.Now().Before(end); {
		if err := d.InProgress(); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-other:
			t.Fatalf("task kept in progress was delivered again (NumDelivered %d)", r.NumDelivered())
		case r := <-ch:
			t.Fatalf("task kept in progress was delivered again (NumDelivered %d)", r.NumDelivered())
		case <-time.After(ackWait / 4):
		}
	}
	ack(t, d)
	nothing(t, other, "acknowledged task")
}

// A consumer holds at most maxInFlight tasks it has not ended, and takes
// nothing more meanwhile: another consumer gets the rest at once. Ending a
// delivery frees its slot.
func testMaxInFlight(t *testing.T, s engine.Store) {
	const max, total = 3, 10
	for i := range total {
		publish(t, s, engine.ActivityTaskKind, "bounded", fmt.Sprint(i), "")
	}
	ch, _ := consumeTasks(t, s, engine.ActivityTaskKind, "bounded", max)
	var held []engine.Delivery
	for range max {
		held = append(held, receive(t, ch, "task"))
	}
	nothing(t, ch, "task beyond maxInFlight")
	ch2, _ := consumeTasks(t, s, engine.ActivityTaskKind, "bounded", total)
	for range total - max {
		ack(t, receive(t, ch2, "task the first consumer does not hold"))
	}
	publish(t, s, engine.ActivityTaskKind, "bounded", "more", "")
	d := receive(t, ch2, "new task")
	ack(t, d)
	ack(t, held[0]) // frees one slot of the first consumer
	publish(t, s, engine.ActivityTaskKind, "bounded", "after ack", "")
	select { // either consumer may take it; the first one may again
	case d := <-ch:
		ack(t, d)
	case d := <-ch2:
		ack(t, d)
	case <-time.After(waitLong):
		t.Fatal("task published after an ack was not delivered")
	}
	for _, d := range held[1:] {
		ack(t, d)
	}
}

// Consumers of one queue share its tasks: each task goes to one of them.
func testCompetingConsumers(t *testing.T, s engine.Store) {
	const consumers, tasks = 3, 60
	var mu sync.Mutex
	got := map[string]int{}
	done := make(chan struct{})
	var acking sync.WaitGroup
	for range consumers {
		ch, _ := consumeTasks(t, s, engine.WorkflowTaskKind, "shared", 4)
		acking.Go(func() {
			for {
				select {
				case d := <-ch:
					mu.Lock()
					got[string(d.Data())]++
					mu.Unlock()
					_ = d.Ack(context.Background())
				case <-done:
					return
				}
			}
		})
	}
	// Runs before the consumers stop (cleanups run last first).
	t.Cleanup(func() { close(done); acking.Wait() })
	for i := range tasks {
		publish(t, s, engine.WorkflowTaskKind, "shared", fmt.Sprint(i), "")
	}
	eventually(t, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < tasks {
			return fmt.Errorf("%d of %d tasks delivered", len(got), tasks)
		}
		return nil
	})
	time.Sleep(quiet)
	mu.Lock()
	defer mu.Unlock()
	for task, n := range got {
		if n != 1 {
			t.Fatalf("task %s delivered %d times to the consumers, want once", task, n)
		}
	}
}
