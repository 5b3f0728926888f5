package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// consume runs ConsumeTasks in the background, sending deliveries to the
// returned channel; stop ends it and waits.
func consume(t *testing.T, st *jetstream.Store, kind engine.TaskKind, queue string, maxInFlight int) (<-chan engine.Delivery, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan engine.Delivery, 1000)
	done := make(chan error, 1)
	go func() {
		done <- st.ConsumeTasks(ctx, kind, queue, maxInFlight, func(d engine.Delivery) { ch <- d })
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("ConsumeTasks returned %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ch, stop
}

func recv(t *testing.T, ch <-chan engine.Delivery, within time.Duration) engine.Delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(within):
		t.Fatalf("no task within %s", within)
	}
	return nil
}

func noRecv(t *testing.T, ch <-chan engine.Delivery, within time.Duration) {
	t.Helper()
	select {
	case d := <-ch:
		t.Fatalf("unexpected task %q", d.Data())
	case <-time.After(within):
	}
}

func TestTaskLatencyAndAck(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	ch, _ := consume(t, st, engine.WorkflowTaskKind, "orders", 10)
	// Let the pull request reach the server.
	if err := st.PublishTask(ctx, engine.WorkflowTaskKind, "orders", []byte("warmup"), ""); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, ch, 5*time.Second).Ack(ctx); err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	for i := 0; i < 50; i++ {
		start := time.Now()
		if err := st.PublishTask(ctx, engine.WorkflowTaskKind, "orders", fmt.Appendf(nil, "t%d", i), ""); err != nil {
			t.Fatal(err)
		}
		d := recv(t, ch, 5*time.Second)
		lat = append(lat, time.Since(start))
		if string(d.Data()) != fmt.Sprintf("t%d", i) || d.NumDelivered() != 1 {
			t.Fatalf("got %q delivered %d", d.Data(), d.NumDelivered())
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("publish -> delivery: p50 %s p90 %s max %s", lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1])
	if lat[len(lat)/2] > 50*time.Millisecond {
		t.Errorf("median publish->delivery %s, want well under 1ms (50ms allowed: -race on a loaded 2-core CI machine)", lat[len(lat)/2])
	}
	// Acked tasks are gone from the work queue.
	noRecv(t, ch, 200*time.Millisecond)
}

func TestTaskBadNames(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	long := strings.Repeat("q", 101)
	for _, q := range []string{"", "a.b", "a b", "*", ">", "ü", long} {
		err := st.PublishTask(ctx, engine.ActivityTaskKind, q, nil, "")
		if !errors.Is(err, jetstream.ErrInvalidName) || !strings.Contains(err.Error(), "task queue name") {
			t.Errorf("publish to %q: %v", q, err)
		}
		err = st.ConsumeTasks(ctx, engine.ActivityTaskKind, q, 1, func(engine.Delivery) {})
		if !errors.Is(err, jetstream.ErrInvalidName) {
			t.Errorf("consume %q: %v", q, err)
		}
	}
	if err := st.PublishTask(ctx, "other", "q", nil, ""); !errors.Is(err, jetstream.ErrInvalidName) {
		t.Errorf("bad kind: %v", err)
	}
	if err := st.ConsumeTasks(ctx, engine.ActivityTaskKind, "q", 0, func(engine.Delivery) {}); err == nil {
		t.Error("maxInFlight 0 accepted")
	}
}

// A consumer that stops while tasks keep coming hands back every task it
// has not started: another consumer gets them at once, not after AckWait
// (a cancelled fetch used to drop the tasks it had buffered or on the wire).
func TestTaskStopHandsBackUnstarted(t *testing.T) {
	const ackWait = 10 * time.Second
	st, _ := jstest.StartIn(t, t.TempDir(), jetstream.Options{AckWait: ackWait})
	ctx := testCtx(t)
	var mu sync.Mutex
	acked := map[string]bool{}
	var redelivered uint64                     // deliveries beyond each task's first
	drain := func(ch <-chan engine.Delivery) { // deliveries handed over are the consumer's to end, even after it stops
		for {
			select {
			case d := <-ch:
				if err := d.Ack(ctx); err != nil {
					t.Error(err)
				}
				mu.Lock()
				acked[string(d.Data())] = true
				redelivered += d.NumDelivered() - 1
				mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}
	chB, _ := consume(t, st, engine.ActivityTaskKind, "handback", 64)
	go drain(chB)
	const rounds, publishers, each, slotsA = 10, 4, 100, 64
	var slowestStop time.Duration
	for r := range rounds {
		chA, stopA := consume(t, st, engine.ActivityTaskKind, "handback", slotsA)
		go drain(chA)
		var wg sync.WaitGroup
		for p := range publishers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := st.PublishTask(ctx, engine.ActivityTaskKind, "handback", fmt.Appendf(nil, "%d-%d-%d", r, p, i), ""); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		time.Sleep(time.Millisecond)
		stopping := time.Now()
		stopA() // A stops while tasks stream in
		slowestStop = max(slowestStop, time.Since(stopping))
		wg.Wait()
	}
	const n = rounds * publishers * each
	jstest.CheckFor(t, ackWait/2, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < n {
			return fmt.Errorf("%d of %d tasks acked: the rest waits out AckWait (%s)", len(acked), n, ackWait)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d tasks redelivered after a hand-back; slowest stop %s", redelivered, slowestStop)
	// A stop hands back at most the tasks of its one pull request.
	if redelivered > rounds*slotsA {
		t.Errorf("%d redeliveries in %d stops of a consumer with %d slots", redelivered, rounds, slotsA)
	}
	// Ending the pull request takes a round trip, not a timeout.
	if slowestStop > time.Second {
		t.Errorf("a stop took %s", slowestStop)
	}
}

// A stopped consumer leaves no pull request on the server: one left open
// would catch tasks published later and bounce them, each bounce raising
// NumDelivered (which drives the engine's workflow-task backoff).
func TestTaskStoppedConsumerTakesNothing(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	js, err := natsjs.New(st.Conn())
	if err != nil {
		t.Fatal(err)
	}
	waiting := func() (int, error) {
		cons, err := js.Consumer(ctx, jetstream.TasksStream, string(engine.WorkflowTaskKind)+"_idle")
		if err != nil {
			return 0, err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return 0, err
		}
		return info.NumWaiting, nil
	}
	_, stopA := consume(t, st, engine.WorkflowTaskKind, "idle", 8)
	jstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n, err := waiting(); err != nil || n != 1 {
			return fmt.Errorf("%d pull requests waiting (%v), want A's", n, err)
		}
		return nil
	})
	stopA()
	if n, err := waiting(); err != nil || n != 0 {
		t.Fatalf("%d pull requests waiting after the stop (%v)", n, err)
	}
	if err := st.PublishTask(ctx, engine.WorkflowTaskKind, "idle", []byte("late"), ""); err != nil {
		t.Fatal(err)
	}
	chB, _ := consume(t, st, engine.WorkflowTaskKind, "idle", 1)
	d := recv(t, chB, 5*time.Second)
	if string(d.Data()) != "late" || d.NumDelivered() != 1 {
		t.Fatalf("got %q NumDelivered %d, want the first delivery", d.Data(), d.NumDelivered())
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}
