package jetstream_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/foremanhq/foreman/jetstream/jstest"
)

// TestMain fails the package when a goroutine outlives the tests: every
// server, connection, consumer and request server a test starts must be
// stopped by then. Authenticated servers leave their credentials for local
// clients in a temporary config directory, never the user's. bleve's
// analysis workers (TestClusterSeveralEngines runs search indexes) are
// process-wide and never stop.
func TestMain(m *testing.M) {
	jstest.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}
