package jetstream_test

import (
	"testing"

	"github.com/foremanhq/foreman/jetstream/jstest"
)

// TestMain fails the package when a goroutine outlives the tests: every
// server, connection, consumer and request server a test starts must be
// stopped by then. Authenticated servers leave their credentials for local
// clients in a temporary config directory, never the user's.
func TestMain(m *testing.M) {
	jstest.VerifyTestMain(m)
}
