package visibility_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/visibility"

	"github.com/foremanhq/foreman/internal/syncbuf"
)

// An operator removes the index directory under a running engine: the
// index says so in the log, and closing it (SIGTERM) does not hang waiting
// for a persist that can never happen.
func TestIndexDirRemovedWhileOpen(t *testing.T) {
	e := newIxEnv(t)
	dir := t.TempDir() + "/index"
	var logs syncbuf.Buffer
	ix, err := visibility.OpenIndex(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = visibility.NewIndexer(ix, e.store, visibility.IndexerOptions{Logger: ixLogger()}).Run(ctx)
	}()
	e.start("gone-1", ixQuick, 1)
	e.caughtUp(ix)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	e.start("gone-2", ixQuick, 2) // something left to persist
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "search index directory removed") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line within 10s of removing the index directory:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	start := time.Now()
	_ = ix.Close()
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("closing an index whose directory was removed took %s", took)
	}
}
