package jetstream

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Sharded history (issue 20 scope 5). A store's runs are spread over N
// history streams and N task streams, so that in a cluster the stream
// leaders — every append and every task ack goes to one — spread over the
// nodes instead of one node carrying all of them. N is fixed when the data
// is created and recorded in the metadata of the stream FM_HISTORY.
//
// Layouts (every name derived here from the shard number):
//
//	N = 1 (default, and every store created before sharding existed)
//	  FM_HISTORY   fm.h.<run>             the history, as it always was
//	  FM_TASKS     fm.t.<kind>.<queue>
//	N > 1
//	  FM_HISTORY_<i>  fm.h.<i>.<run>      shard i's histories (appends, per-run reads, dispatch)
//	  FM_TASKS_<i>    fm.ts.<i>.<kind>.<queue>
//	  FM_HISTORY      (no subjects)       every shard's batches, sourced by the server:
//	                                      what readers of all history (the search
//	                                      index, result waits) follow in one order
//
// Timers stay in one stream (FM_TIMERS): one message per timer or retry,
// against two writes (a history append and a task) per workflow step.

// MaxShards bounds Options.Shards.
const MaxShards = 16

// shardedTaskPrefix + <shard>.<kind>.<queue> are a sharded store's task
// subjects (a one-shard store keeps fm.t.<kind>.<queue>).
const shardedTaskPrefix = "fm.ts."

// shardsMetadataKey records N in FM_HISTORY's metadata.
const shardsMetadataKey = "foreman_shards"

// ErrShardsFixed: the store asked for a shard count other than the one
// its data was created with.
var ErrShardsFixed = errors.New("history shard count is fixed when the data is created")

// ShardOf maps a run to its shard, 0..n-1: FNV-1a of the key modulo n.
// Every stream and subject of a run is derived from it (layout's methods).
// The key is the run id: it is what every store call about a run carries
// (history appends and reads, tasks and timers name it), whereas the
// workflow id reaches the store only on appends; runs of one workflow
// (continue-as-new, reset) may therefore sit on different shards, which
// nothing needs, each run's history being its own total order.
func ShardOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// layout names every sharded stream and subject of a store with n shards.
type layout struct{ n int }

func (l layout) sharded() bool { return l.n > 1 }

// pick is single in a one-shard store, sharded otherwise: every name
// below keeps its pre-sharding spelling with one shard.
func (l layout) pick(single, sharded string) string {
	if !l.sharded() {
		return single
	}
	return sharded
}

// historyStream is shard i's history stream.
func (l layout) historyStream(i int) string {
	return l.pick(HistoryStream, HistoryStream+"_"+strconv.Itoa(i))
}

// historyPrefix starts the subject of every run of shard i.
func (l layout) historyPrefix(i int) string {
	return l.pick(historySubjectPrefix, historySubjectPrefix+strconv.Itoa(i)+".")
}

// historyFilter matches every history subject of every shard.
func (l layout) historyFilter() string { return l.pick(historySubjects, historySubjectPrefix+">") }

// taskFilter matches every task subject of every shard.
func (l layout) taskFilter() string { return l.pick(taskSubjects, shardedTaskPrefix+">") }

// taskStream is shard i's task stream.
func (l layout) taskStream(i int) string {
	return l.pick(TasksStream, TasksStream+"_"+strconv.Itoa(i))
}

// taskPrefix starts every task subject of shard i.
func (l layout) taskPrefix(i int) string {
	return l.pick(taskSubjectPrefix, shardedTaskPrefix+strconv.Itoa(i)+".")
}

// runShard is the shard of a run.
func (l layout) runShard(runID string) int { return ShardOf(runID, l.n) }

// historySubject is the run's subject and the shard it lives on.
func (l layout) historySubject(runID string) (string, int, error) {
	if err := checkToken("run id", runID, maxRunIDLen); err != nil {
		return "", 0, err
	}
	i := l.runShard(runID)
	return l.historyPrefix(i) + runID, i, nil
}

// taskShard is where a task goes: by its message id, which is stable per
// task (a republish, deduplicated by the stream, must reach the same
// stream) and names its run; tasks without one go to shard 0.
func (l layout) taskShard(msgID string) int { return ShardOf(msgID, l.n) }

// taskSubject is a task queue's subject on shard i.
func (l layout) taskSubject(i int, kind string, queue string) string {
	return l.taskPrefix(i) + kind + "." + queue
}

// shardConfigs are shard i's history and task streams (N > 1): the
// one-shard streams' configuration, renamed, on the shard's subjects.
func (l layout) shardConfigs(o Options, i int) []natsjs.StreamConfig {
	h, t := historyConfig(o), tasksConfig(o)
	h.Name, h.Subjects = l.historyStream(i), []string{l.historyPrefix(i) + "*"}
	t.Name, t.Subjects = l.taskStream(i), []string{l.taskPrefix(i) + ">"}
	for _, c := range []*natsjs.StreamConfig{&h, &t} {
		c.Description += fmt.Sprintf(", shard %d of %d", i, l.n)
	}
	return []natsjs.StreamConfig{h, t}
}

// aggregateConfig is FM_HISTORY of a sharded store: no subjects of its
// own, every shard's batches sourced into one order by the server.
func (l layout) aggregateConfig(o Options) natsjs.StreamConfig {
	c := historyConfig(o)
	c.Description = fmt.Sprintf("Foreman run histories of all %d shards, sourced, for readers of all history", l.n)
	c.Subjects = nil
	c.AllowDirect = true
	for i := range l.n {
		c.Sources = append(c.Sources, &natsjs.StreamSource{Name: l.historyStream(i)})
	}
	c.Metadata = map[string]string{shardsMetadataKey: strconv.Itoa(l.n)}
	return c
}

// recordedShards reads N from FM_HISTORY's metadata: 0 when the stream
// does not exist (new data), 1 when it predates sharding.
func recordedShards(ctx context.Context, js natsjs.JetStream) (int, error) {
	st, err := js.Stream(ctx, HistoryStream)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the history layout: %w", err)
	}
	v, ok := st.CachedInfo().Config.Metadata[shardsMetadataKey]
	if !ok {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxShards {
		return 0, fmt.Errorf("reading the history layout: stream %s metadata %s=%q is not a shard count", HistoryStream, shardsMetadataKey, v)
	}
	return n, nil
}

// chooseShards is the layout a store opens with: the recorded one, which
// a different wanted count (Options.Shards, 0 = as recorded) cannot change.
func chooseShards(recorded, wanted int) (layout, error) {
	switch {
	case recorded == 0 && wanted == 0:
		return layout{n: 1}, nil
	case recorded == 0:
		return layout{n: wanted}, nil
	case wanted == 0 || wanted == recorded:
		return layout{n: recorded}, nil
	}
	return layout{}, fmt.Errorf("%w: this data has %d shard(s) and --shards %d was asked: keep --shards %d (or leave it out), or create new data with it: `foreman-engine --data <new directory> --shards %d` (with --nats, a NATS server or account without Foreman's streams)",
		ErrShardsFixed, recorded, wanted, recorded, wanted)
}

// Shards is how many history and task shards the store's data has.
func (s *Store) Shards() int { return s.lay.n }
