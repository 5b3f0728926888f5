package jetstream_test

import (
	"errors"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func TestDialRefusesAServerWithoutEngine(t *testing.T) {
	srv, err := jetstream.StartEmbedded(jetstream.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	_, err = jetstream.Dial(testCtx(t), srv.ClientURL(), jetstream.Options{})
	if !errors.Is(err, jetstream.ErrNoEngine) {
		t.Fatalf("dial a bare server: %v, want ErrNoEngine", err)
	}
	// and it created nothing there
	nc, err := jetstream.Connect(testCtx(t), srv.ClientURL(), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := jetstream.OpenExisting(testCtx(t), nc, jetstream.Options{}); !errors.Is(err, jetstream.ErrNoEngine) {
		t.Fatalf("second open: %v, want ErrNoEngine (Dial must not create streams)", err)
	}
}

func TestDialUsesTheEngineStreams(t *testing.T) {
	st, srv := jstest.Start(t)
	ctx := testCtx(t)
	c := engine.NewClient(st, engine.ClientOptions{Identity: "ops"})
	run, err := c.Start(ctx, engine.StartOptions{ID: "wf-1", TaskQueue: "q"}, "Flow", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	node, err := jetstream.Dial(ctx, srv.ClientURL(), jetstream.Options{Name: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if node.Server != nil {
		t.Fatal("Dial started a server")
	}
	x, err := engine.NewClient(node.Store, engine.ClientOptions{Identity: "cli"}).Describe(ctx, "wf-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if x.RunID != run.RunID || x.Type != "Flow" || string(x.Input) != `{"n":1}` {
		t.Fatalf("describe through the dialed store = %+v", x)
	}
	if time.Since(x.StartTime) > time.Minute {
		t.Fatalf("start time %v", x.StartTime)
	}
}
