package main_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/foremanhq/foreman/jetstream/jstest"
)

// TestMain fails the package when a goroutine outlives the tests: every
// engine process, server, index and worker a test starts must be stopped
// by then. One ignore: bleve's init starts the library-wide analysis
// workers (bleve.Config's queue, config.go), which live as long as the
// process whatever the indexes do. The engines the tests start (and the
// clients that find their credentials) use a temporary config directory,
// never the user's.
func TestMain(m *testing.M) {
	jstest.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}
