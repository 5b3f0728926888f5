package jetstream_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// server, connection, consumer and request server a test starts must be
// stopped by then.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
