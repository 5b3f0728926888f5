package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// A store remembers "no key" for a while (every history read asks);
// RecheckOperatorPublicKey reads past that memory, and what it finds is
// then remembered for every reader of the store.
func TestRecheckOperatorPublicKeySeesAKeyPublishedSince(t *testing.T) {
	engineStore, _ := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := jetstream.Connect(ctx, engineStore.Conn().ConnectedUrl(), jetstream.Options{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	client, err := jetstream.Open(ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if pub, err := client.OperatorPublicKey(ctx); pub != nil || err != nil {
		t.Fatalf("before the engine published a key: %v, %v", pub, err)
	}
	if err := engineStore.EnableSigning(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if pub, _ := client.OperatorPublicKey(ctx); pub != nil {
		t.Fatal("the remembered 'none' was read again at once: the test shows nothing")
	}
	pub, err := client.RecheckOperatorPublicKey(ctx)
	want, _ := engineStore.OperatorPublicKey(ctx)
	if err != nil || pub == nil || !pub.Equal(want) {
		t.Fatalf("recheck after the key was published: %v, %v; want %v", pub, err, want)
	}
	if pub, _ := client.OperatorPublicKey(ctx); !pub.Equal(want) {
		t.Fatalf("the key a recheck found is not remembered: %v", pub)
	}
}
