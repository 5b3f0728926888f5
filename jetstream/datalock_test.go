package jetstream_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/foremanhq/foreman/jetstream"
)

// A second embedded server on a data directory in use is refused before it
// opens the store, and the refusal names the holder; once the first has
// shut down the directory is free again.
func TestSecondServerOnSameDataIsRefused(t *testing.T) {
	dir := t.TempDir()
	first, err := jetstream.StartEmbedded(jetstream.Options{DataDir: dir, Listen: "127.0.0.1:-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = jetstream.StartEmbedded(jetstream.Options{DataDir: dir, Listen: "127.0.0.1:-1"}, nil)
	if !errors.Is(err, jetstream.ErrDataDirInUse) {
		t.Fatalf("second server on %s: %v, want ErrDataDirInUse", dir, err)
	}
	if !strings.Contains(err.Error(), "pid="+strconv.Itoa(os.Getpid())) {
		t.Fatalf("refusal does not name the holder: %v", err)
	}
	first.Shutdown()
	again, err := jetstream.StartEmbedded(jetstream.Options{DataDir: dir, Listen: "127.0.0.1:-1"}, nil)
	if err != nil {
		t.Fatalf("after the first shut down: %v", err)
	}
	again.Shutdown()
}
