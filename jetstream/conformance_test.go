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
func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) engine.Store {
		st, _ := jstest.StartIn(t, t.TempDir(), jetstream.Options{AckWait: time.Second})
		return st
	})
}
