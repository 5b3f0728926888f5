package jetstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// Requests reach one of the engines serving a subject, with the
// requester's remaining time; with none serving, the error says so.
func TestServeAPIAndRequest(t *testing.T) {
	st, srv := jstest.Start(t)
	ctx := testCtx(t)
	// A second connection stands for a second engine.
	other := secondStore(t, srv)

	var served [2]atomic.Int64
	var deadlines sync.Map
	handler := func(i int) func(context.Context, []byte) []byte {
		return func(ctx context.Context, req []byte) []byte {
			served[i].Add(1)
			if dl, ok := ctx.Deadline(); ok {
				deadlines.Store(string(req), time.Until(dl))
			}
			return append([]byte("re:"), req...)
		}
	}
	stop0, err := st.ServeAPI("test.api", handler(0))
	if err != nil {
		t.Fatal(err)
	}
	stop1, err := other.ServeAPI("test.api", handler(1))
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		resp, err := st.Request(ctx, "test.api", []byte("x"))
		if err != nil || string(resp) != "re:x" {
			t.Fatalf("answer %q, %v", resp, err)
		}
	}
	if a, b := served[0].Load(), served[1].Load(); a+b != 40 || a == 0 || b == 0 {
		t.Fatalf("served %d and %d of 40: each request once, both engines used", a, b)
	}

	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := st.Request(short, "test.api", []byte("timed")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if d, ok := deadlines.Load("timed"); !ok || d.(time.Duration) > 2*time.Second || d.(time.Duration) < time.Second {
		t.Fatalf("handler deadline %v, want a little under the requester's 2s", d)
	}

	stop0()
	stop1()
	_, err = st.Request(ctx, "test.api", []byte("x"))
	if !errors.Is(err, engine.ErrNoResponders) {
		t.Fatalf("nobody serving: %v", err)
	}
	if _, err := st.ServeAPI("test.*", handler(0)); !errors.Is(err, jetstream.ErrInvalidName) {
		t.Fatalf("wildcard subject: %v", err)
	}
}

// secondStore opens another connection and store on srv, as another
// process would.
func secondStore(t *testing.T, srv *jetstream.Server) *jetstream.Store {
	t.Helper()
	nc, err := jetstream.Connect(testCtx(t), srv.ClientURL(), jetstream.Options{Name: "second"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := jetstream.Open(testCtx(t), nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// A handler that waits ends when the requester's time is up.
func TestServeAPIHandlerContextEnds(t *testing.T) {
	st, _ := jstest.Start(t)
	ended := make(chan error, 1)
	stop, err := st.ServeAPI("test.slow", func(ctx context.Context, req []byte) []byte {
		<-ctx.Done()
		ended <- ctx.Err()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	// The handler's time ends a little before the requester's, so that its
	// answer (here empty) can still arrive.
	if _, err := st.Request(ctx, "test.slow", nil); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request to a slow handler: %v", err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("handler context: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler kept waiting after the requester gave up")
	}
}

// Notices reach every subscriber.
func TestPublishSubscribe(t *testing.T) {
	st, _ := jstest.Start(t)
	got := make(chan string, 1)
	stop, err := st.Subscribe("test.notes", func(d []byte) { got <- string(d) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := st.Publish("test.notes", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "hi" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notice")
	}
}

// Every served subject is a micro service: `nats micro ls` finds the
// engines serving the search API and the workers serving queries.
func TestRequestServersAreDiscoverable(t *testing.T) {
	st, _ := jstest.Start(t)
	stopAPI, err := st.ServeAPI("test.discover", func(context.Context, []byte) []byte { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer stopAPI()
	stopQ, err := st.ServeQueries("orders", func([]byte) []byte { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer stopQ()
	for service, subject := range map[string]string{"foreman-api": "test.discover", "foreman-query": "fm.q.orders"} {
		ping, err := micro.ControlSubject(micro.InfoVerb, service, "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := st.Conn().Request(ping, nil, 5*time.Second)
		if err != nil {
			t.Fatalf("%s info: %v", service, err)
		}
		var info micro.Info
		if err := json.Unmarshal(resp.Data, &info); err != nil {
			t.Fatal(err)
		}
		if len(info.Endpoints) != 1 || info.Endpoints[0].Subject != subject {
			t.Fatalf("%s serves %+v, want one endpoint on %s", service, info.Endpoints, subject)
		}
	}
}
