package jetstream_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// WatchAppends sees every batch published on the run's subject, body
// included, the refused ones too (they are hints, not history).
func TestWatchAppendsSeesPublishedBatches(t *testing.T) {
	s, _ := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []engine.StoredBatch
	stop, behind, err := s.WatchAppends("r1", func(b engine.StoredBatch) {
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	h := engine.BatchHeader{RunID: "r1", WorkflowID: "wf", TaskQueue: "q", Kind: engine.BatchExternal, FirstEventID: 1, LastEventID: 1}
	if err := s.Conn().Flush(); err != nil { // the server has the subscription
		t.Fatal(err)
	}
	if _, err := s.AppendHistory(ctx, h, []byte("first"), 0, ""); err != nil {
		t.Fatal(err)
	}
	h.Closed, h.Sum = true, engine.BatchSum([]byte("refused"))
	if _, err := s.AppendHistory(ctx, h, []byte("refused"), 0, ""); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("a second append at seq 0: %v, want a conflict", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 && !behind() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("saw %d batches, want 2", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if string(got[0].Data) != "first" || string(got[1].Data) != "refused" || !got[1].Header.Closed || got[1].Header.Sum != h.Sum {
		t.Fatalf("copies %+v", got)
	}
}

// A role whose permissions refuse history subscriptions gets no hints:
// known from its credentials, or learnt from the server's refusal (which
// no OnDenied callback hears: no operation was refused).
func TestWatchAppendsRefusedRoles(t *testing.T) {
	node, users, _ := bootWithUsers(t)
	nc := jstest.ConnectAs(t, node.URL(), addUser(t, node, users, "vera", auth.Viewer))
	st, err := jetstream.OpenExisting(context.Background(), nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.WatchAppends("r1", func(engine.StoredBatch) {}); !errors.Is(err, jetstream.ErrNoHints) {
		t.Fatalf("a viewer's WatchAppends: %v, want ErrNoHints", err)
	}

	// credentials that claim admin, for a viewer: the server refuses
	pub, file, err := jetstream.NewUserCreds("liar", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/liar.nk"
	if err := jetstream.WriteSecretFile(path, file); err != nil {
		t.Fatal(err)
	}
	if err := users.Add(context.Background(), jetstream.UserRecord{Principal: auth.Principal{User: "liar", Role: auth.Viewer}, NKey: pub}); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, node, pub, "liar")
	lnc := jstest.ConnectAs(t, node.URL(), path)
	var heard []error
	var mu sync.Mutex
	jetstream.OnDenied(lnc, func(err error) { mu.Lock(); heard = append(heard, err); mu.Unlock() })
	lst, err := jetstream.OpenExisting(context.Background(), lnc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lst.Close()
	stop, _, err := lst.WatchAppends("r1", func(engine.StoredBatch) {})
	if err != nil {
		t.Fatalf("the first WatchAppends of claimed admin credentials: %v", err)
	}
	defer stop()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, _, err := lst.WatchAppends("r2", func(engine.StoredBatch) {})
		if errors.Is(err, jetstream.ErrNoHints) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WatchAppends after the server refused one: %v, want ErrNoHints", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 0 {
		t.Fatalf("OnDenied heard %v: a refused hint is no operation's refusal", heard)
	}
}
