package visibility

// DecodeEvents exposes the indexer's batch decoder to the external tests.
var DecodeEvents = decodeEvents
