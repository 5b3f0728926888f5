// Package operator is what an operator can do to workflow runs, declared
// once and shared by the foreman CLI and the console (tui):
//
//   - the action catalog (catalog.go, builtin.go): one Action per operator
//     action, with whether it writes, whether it is destructive, what it
//     asks for, which run states allow it, and the function that performs
//     it through the engine client;
//   - Actions (actions.go), the one entry point every action goes through,
//     and ReadOnly, the one decorator that refuses every write: a new
//     catalog entry is covered without a line of extra code;
//   - Runner (batch.go), the one batch runner: journaled (Journal,
//     journal.go, implemented in JetStream KV by jetstream.Batches),
//     resumable by batch id without acting twice on a run, rate-limited
//     with golang.org/x/time/rate.
//
// operatortest gives tests a real engine on an embedded JetStream.
//
// The package talks to the engine through engine.Client only and imports
// neither JetStream nor the search index (bleve), so the console can use
// it: batches read their runs through a Pages function the caller builds
// over its search client, and journal through the Journal interface.
package operator
