package engine_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// service, worker, task and timer a test starts must be stopped by then
// (with the server and connection it ran on).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
