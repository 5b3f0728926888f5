package jetstream_test

import (
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/storetest"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// The JetStream store passes the engine's store conformance suite, each
// subtest on its own embedded server. AckWait is short so that the
// redelivery tests run (they wait it out several times).
func TestStoreConformance(t *testing.T) { storeConformance(t, 0) }

// A store with 3 history and task shards passes the same suite: reads,
// follows, appends with OCC, history consumers, task queues and timers
// all follow the run's shard.
func TestShardedStoreConformance(t *testing.T) { storeConformance(t, 3) }

func storeConformance(t *testing.T, shards int) {
	storetest.Run(t, func(t *testing.T) engine.Store {
		st, _ := jstest.StartIn(t, t.TempDir(), jetstream.Options{AckWait: time.Second, Shards: shards})
		return st
	})
}
