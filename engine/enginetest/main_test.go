package enginetest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: an
// environment stops everything it started (server, services, worker, the
// activities it left waiting) when its test ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
