package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// The engine killed under the console's backend (issue 19, finding 3): a
// call in flight fails within a fraction of a second rather than at its
// deadline (NATS would buffer it until the link came back), the next call
// fails at once, and ConnState says which server was lost.
func TestBackendFailsFastWhenTheLinkDrops(t *testing.T) {
	_, srv := jstest.Start(t)
	url := srv.ClientURL()
	a := newApp(globals{nats: url, identity: "outage"}, stdio{in: strings.NewReader(""), out: io.Discard, err: io.Discard})
	defer a.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := a.backend(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := b.ConnState(); !s.Connected || s.URL != url {
		t.Fatalf("connected backend reports %+v", s)
	}
	inFlight, done, err := b.guard(context.Background()) // no deadline of its own
	if err != nil {
		t.Fatal(err)
	}
	defer done()

	srv.Shutdown()
	killed := time.Now()
	select {
	case <-inFlight.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("a call in flight was not failed within 3 s of the engine's death")
	}
	if cause := context.Cause(inFlight); !errors.Is(cause, errOffline) || !strings.Contains(cause.Error(), url) {
		t.Fatalf("the call in flight ended with %v, want errOffline naming %s", cause, url)
	}
	t.Logf("call in flight failed %s after the kill", time.Since(killed).Round(time.Millisecond))

	began := time.Now()
	_, err = b.Search(ctx, searchapi.SearchRequest{Query: "*"})
	if !errors.Is(err, errOffline) || time.Since(began) > time.Second {
		t.Fatalf("search while disconnected: %v after %s, want errOffline at once", err, time.Since(began))
	}
	if s := b.ConnState(); s.Connected || s.URL != url {
		t.Fatalf("disconnected backend reports %+v", s)
	}
}
