package visibility

import "github.com/foremanhq/foreman/engine"

// decodeEvents returns the events of an encoded history batch. Decoding is
// a large part of indexing (every touched run's batches are decoded when
// its document is built); engine.DecodeBatch reads a batch in one pass
// into the attribute types the engine's event registry names.
func decodeEvents(data []byte) ([]engine.Event, error) {
	b, err := engine.DecodeBatch(data)
	if err != nil {
		return nil, err
	}
	return b.Events, nil
}
