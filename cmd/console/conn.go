package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/tui"
)

// errOffline is what a console call fails with while the NATS link is
// down: at once, rather than after the request timeout.
var errOffline = errors.New("not connected to the engine (reconnecting)")

// connCheckEvery is how often a call in flight looks at the link: a call
// caught by an outage fails within this, not after its deadline (NATS
// buffers requests while reconnecting and would wait the deadline out).
const connCheckEvery = 200 * time.Millisecond

// ConnState is the NATS link as the console's header shows it.
func (b *backend) ConnState() tui.ConnState {
	return tui.ConnState{Connected: b.conn().IsConnected(), URL: redactURL(b.app.g.nats)}
}

func (b *backend) conn() *nats.Conn { return b.app.node.Conn }

// guard runs a call under ctx, failing it with errOffline as soon as the
// link is down: before it starts, or while it waits.
func (b *backend) guard(ctx context.Context) (context.Context, context.CancelFunc, error) {
	nc := b.conn()
	if !nc.IsConnected() {
		return ctx, func() {}, fmt.Errorf("%w: %s", errOffline, redactURL(b.app.g.nats))
	}
	c, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(connCheckEvery)
		defer t.Stop()
		for {
			select {
			case <-c.Done():
				return
			case <-t.C:
				if !nc.IsConnected() {
					cancel(fmt.Errorf("%w: %s", errOffline, redactURL(b.app.g.nats)))
					return
				}
			}
		}
	}()
	return c, func() { cancel(nil) }, nil
}

// guarded calls fn under guard, and says the link went down rather than
// "context canceled" when that is why it failed.
func guarded[T any](b *backend, ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	c, cancel, err := b.guard(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer cancel()
	v, err := fn(c)
	if err != nil {
		if cause := context.Cause(c); errors.Is(cause, errOffline) {
			return v, cause
		}
	}
	return v, err
}

// Perform runs an operator action unless the link is down.
func (b *backend) Perform(ctx context.Context, req operator.Request) (operator.Outcome, error) {
	return guarded(b, ctx, func(c context.Context) (operator.Outcome, error) { return b.Actions.Perform(c, req) })
}

// redactURL hides a password in a server URL before it is shown.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
