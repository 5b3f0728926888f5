package visibility

import (
	"context"

	"github.com/foremanhq/foreman/engine"
)

// decodeEvents returns the events of an encoded history batch. Decoding is
// a large part of indexing (every touched run's batches are decoded when
// its document is built); engine.DecodeBatch reads a batch in one pass
// into the attribute types the engine's event registry names. Operator
// events without the engine's signature are screened out as every reader
// of history does (src publishes the key): a forged termination does not
// close the run in search either.
func decodeEvents(ctx context.Context, src any, runID string, data []byte) ([]engine.Event, error) {
	b, err := engine.DecodeBatch(data)
	if err != nil {
		return nil, err
	}
	if _, err := engine.ScreenBatch(ctx, src, runID, b); err != nil {
		return nil, err
	}
	return b.Events, nil
}
