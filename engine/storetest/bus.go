package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

var busTests = []test{
	{"QueryAnsweredByOneWorker", testQuery},
	{"QueriesAnsweredConcurrently", testQueriesConcurrent},
	{"CancelNoticesReachEverySubscriber", testCancels},
}

// A query reaches one of the workers serving its queue, once; with none
// serving (never, or not any more) it fails with ErrNoResponders.
func testQuery(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	var served [2]atomic.Int64
	var stops []func()
	for i := range served {
		stop, err := s.ServeQueries("orders", func(req []byte) []byte {
			served[i].Add(1)
			return append([]byte("re: "), req...)
		})
		if err != nil {
			t.Fatal(err)
		}
		stops = append(stops, stop)
	}
	const n = 20
	for i := range n {
		resp, err := s.Query(ctx, "orders", fmt.Appendf(nil, "q%d", i))
		if err != nil || string(resp) != fmt.Sprintf("re: q%d", i) {
			t.Fatalf("query = %q, %v", resp, err)
		}
	}
	if a, b := served[0].Load(), served[1].Load(); a+b != n {
		t.Fatalf("workers served %d and %d of %d queries: want each query served once", a, b, n)
	}
	for _, stop := range stops {
		stop()
	}
	if _, err := s.Query(ctx, "orders", nil); !errors.Is(err, engine.ErrNoResponders) {
		t.Fatalf("query after the workers stopped serving: %v, want ErrNoResponders", err)
	}
	if _, err := s.Query(ctx, "nobody-serves", nil); !errors.Is(err, engine.ErrNoResponders) {
		t.Fatalf("query to an unserved queue: %v, want ErrNoResponders", err)
	}
}

// One worker answers queries concurrently: a slow query does not hold up
// the others. A store that implements engine.QueryServer gives each
// handler a context that ends no later than the requester stops waiting.
func testQueriesConcurrent(t *testing.T, s engine.Store) {
	release := make(chan struct{})
	handler := func(ctx context.Context, req []byte) []byte {
		if string(req) == "slow" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return req
	}
	serve := func(req []byte) []byte { return handler(context.Background(), req) }
	var stop func()
	var err error
	qs, withCtx := s.(engine.QueryServer)
	if withCtx {
		stop, err = qs.ServeQueriesContext("busy", handler)
	} else {
		stop, err = s.ServeQueries("busy", serve)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	defer close(release)
	ctx := testCtx(t)
	slow := make(chan error, 1)
	go func() {
		_, err := s.Query(ctx, "busy", []byte("slow"))
		slow <- err
	}()
	time.Sleep(50 * time.Millisecond) // the slow query is being handled
	fast, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if resp, err := s.Query(fast, "busy", []byte("fast")); err != nil || string(resp) != "fast" {
		t.Fatalf("query while another is handled = %q, %v: want an answer at once", resp, err)
	}
	if !withCtx {
		return
	}
	var deadline sync.Map
	stop2, err := qs.ServeQueriesContext("deadline", func(ctx context.Context, req []byte) []byte {
		dl, ok := ctx.Deadline()
		deadline.Store("dl", dl)
		deadline.Store("ok", ok)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
	defer qcancel()
	want, _ := qctx.Deadline()
	if _, err := s.Query(qctx, "deadline", nil); err != nil {
		t.Fatal(err)
	}
	ok, _ := deadline.Load("ok")
	dl, _ := deadline.Load("dl")
	if ok != true || dl.(time.Time).After(want) {
		t.Fatalf("handler deadline %v (set: %v), want one no later than the requester's %v", dl, ok, want)
	}
}

// A cancel notice reaches every subscriber (each worker checks its own
// attempts), and none after it stopped.
func testCancels(t *testing.T, s engine.Store) {
	ctx := testCtx(t)
	var chans [2]chan string
	var stops [2]func()
	for i := range chans {
		chans[i] = make(chan string, 10)
		stop, err := s.SubscribeCancels(func(data []byte) { chans[i] <- string(data) })
		if err != nil {
			t.Fatal(err)
		}
		stops[i] = stop
	}
	if err := s.PublishCancel(ctx, []byte("run-1/act-2/1")); err != nil {
		t.Fatal(err)
	}
	for i, ch := range chans {
		if got := receive(t, ch, fmt.Sprintf("cancel notice at subscriber %d", i)); got != "run-1/act-2/1" {
			t.Fatalf("subscriber %d got %q", i, got)
		}
	}
	stops[0]()
	if err := s.PublishCancel(ctx, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, chans[1], "cancel notice"); got != "late" {
		t.Fatalf("subscriber 1 got %q", got)
	}
	nothing(t, chans[0], "cancel notice after stop")
	stops[1]()
}
