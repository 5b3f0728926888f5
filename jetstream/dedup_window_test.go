package jetstream_test

import (
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// The streams whose writes carry message ids remember them for 2 minutes
// (layout.go, duplicateWindow: a crashed engine's batches derived again
// after its restart must not run activities twice), and a store made with
// a shorter window (a build that tried 30 s) is brought to it when opened.
// Inside the window a republished task is still stored once.
func TestDuplicateWindow(t *testing.T) {
	const want = 2 * time.Minute
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	nc := st.Conn()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	streams := []string{jetstream.HistoryStream, jetstream.TasksStream, jetstream.TimersStream}
	check := func(when string) {
		t.Helper()
		for _, name := range streams {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.CachedInfo().Config.Duplicates; got != want {
				t.Errorf("%s: stream %s remembers message ids for %s, want %s", when, name, got, want)
			}
		}
	}
	check("new store")

	// As an older version left them.
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.Duplicates = 30 * time.Second
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	st2, err := jetstream.Open(ctx, nc, jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	check("reopened store")

	for range 3 {
		if err := st2.PublishTask(ctx, engine.WorkflowTaskKind, "dedup", []byte("t"), "w-run-1"); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(ctx, jetstream.TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("a task published 3 times with one message id is stored %d times", info.State.Msgs)
	}
}
