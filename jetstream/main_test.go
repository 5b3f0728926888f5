package jetstream_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/foremanhq/foreman/jetstream/jstest"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// server, connection, consumer and request server a test starts must be
// stopped by then.
//
// Authenticated servers leave their credentials for local clients in a
// temporary config directory, never the user's.
func TestMain(m *testing.M) {
	remove, err := jstest.IsolateConfigDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) { remove(); os.Exit(code) }))
}
