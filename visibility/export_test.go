package visibility

import (
	"context"

	"github.com/foremanhq/foreman/engine"
)

// DecodeEvents exposes the indexer's batch decoder to the external tests.
var DecodeEvents = func(data []byte) ([]engine.Event, error) { return decodeEvents(context.Background(), nil, "", data) }
