package jstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/jetstream"
)

// ConnectAs connects to url with the credentials file creds, retrying for
// a few seconds: a user just added reaches the server through the
// directory's watch.
func ConnectAs(t testing.TB, url, creds string) *nats.Conn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		nc, err := jetstream.Connect(ctx, url, jetstream.Options{CredsFile: creds, Name: "jstest"})
		cancel()
		if err == nil {
			t.Cleanup(nc.Close)
			return nc
		}
		if time.Now().After(deadline) {
			t.Fatalf("connecting with %s: %v", creds, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Refusals collects the permission violations the server reports to nc.
type Refusals struct {
	nc   *nats.Conn
	errs chan error
}

// WatchRefusals starts collecting nc's permission violations.
func WatchRefusals(nc *nats.Conn) *Refusals {
	r := &Refusals{nc: nc, errs: make(chan error, 64)}
	jetstream.OnDenied(nc, func(err error) {
		select {
		case r.errs <- err:
		default:
		}
	})
	return r
}

// Publish publishes on subj and reports whether the server refused it
// (NATS says so asynchronously: it waits up to a second for the refusal,
// time enough on a loaded machine under the race detector).
func (r *Refusals) Publish(subj string) bool {
	return r.refused(func() error { return r.nc.Publish(subj, []byte("x")) })
}

// Subscribe subscribes to subj and reports whether the server refused it.
func (r *Refusals) Subscribe(subj string) bool {
	return r.refused(func() error {
		sub, err := r.nc.SubscribeSync(subj)
		if err == nil {
			defer sub.Unsubscribe()
		}
		return err
	})
}

func (r *Refusals) refused(do func() error) bool {
	for len(r.errs) > 0 {
		<-r.errs
	}
	if err := do(); err != nil {
		return errors.Is(err, nats.ErrPermissionViolation)
	}
	_ = r.nc.Flush()
	select {
	case <-r.errs:
		return true
	case <-time.After(time.Second):
		return false
	}
}
