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
// process-wide and never stop. A sourced stream (FM_HISTORY of a sharded
// store) leaves nats-server's wait for its source consumer's reply
// running after the server shut down, until that wait's own timeout.
func TestMain(m *testing.M) {
	jstest.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"))
}
