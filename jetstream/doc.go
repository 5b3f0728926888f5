// Package jetstream implements engine.Store on NATS JetStream, and runs an
// embedded nats-server for single-machine deployments.
//
// Layout (all names in layout.go):
//
//	FM_HISTORY  fm.h.<runID>           one message per history batch, appended with
//	                                   Nats-Expected-Last-Subject-Sequence (OCC);
//	                                   read with batched direct get (server 2.11+)
//	FM_TASKS    fm.t.<wf|act>.<queue>  work queue, one durable pull consumer per subject
//	FM_TIMERS   fm.tm.<key>            one message per timer key (MaxMsgsPerSubject 1)
//
//	with N > 1 shards (shards.go; N fixed with the data, in FM_HISTORY's metadata):
//	FM_HISTORY_<i>  fm.h.<i>.<runID>             shard i's histories
//	FM_TASKS_<i>    fm.ts.<i>.<wf|act>.<queue>   shard i's task queues
//	FM_HISTORY      (no subjects)                every shard sourced, for readers of all history
//
//	KV fm_runs                         base64url(workflow id) -> JSON engine.RunRecord
//	KV fm_heartbeats                   activity attempt key -> newest heartbeat
//	KV fm_workers                      <queue>.<instance> -> worker announcement (per-entry TTL)
//	fm.q.<queue>, fm.cancel            core NATS: queries and cancel notices
//
// Typical use:
//
//	srv, err := jetstream.StartEmbedded(jetstream.Options{DataDir: "./foreman-data"}, logger)
//	nc, err := jetstream.Connect(ctx, srv.ClientURL(), opts)
//	st, err := jetstream.Open(ctx, nc, opts) // idempotent: creates or updates every stream
//	defer st.Close()
//
// The embedded server requires credentials (auth.go): it makes a user key
// under the data directory and leaves a copy, keyed by its URL, where
// Connect finds it for clients of the same OS user (LocalCredsPath).
//
// Tests use package jstest, which does the same on a random port in a
// temp dir, unauthenticated.
package jetstream
