package jetstream

import (
	"encoding/base64"
	"fmt"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// Every stream, subject and bucket the store uses is named here.
const (
	// HistoryStream holds every run's history, one subject per run:
	// fm.h.<runID>. Never trimmed.
	HistoryStream        = "FM_HISTORY"
	historySubjectPrefix = "fm.h."
	historySubjects      = "fm.h.*"

	// TasksStream is a work queue of workflow and activity tasks:
	// fm.t.<kind>.<queue>, one durable consumer per subject.
	TasksStream       = "FM_TASKS"
	taskSubjectPrefix = "fm.t."
	taskSubjects      = "fm.t.>"

	// TimersStream keeps one message per timer key: fm.tm.<key>.
	TimersStream       = "FM_TIMERS"
	timerSubjectPrefix = "fm.tm."
	timerSubjects      = "fm.tm.>"

	// RunsBucket maps base64url(workflow id) to the JSON RunRecord.
	RunsBucket = "fm_runs"
	// HeartbeatsBucket keeps the newest heartbeat per activity attempt.
	HeartbeatsBucket = "fm_heartbeats"
	// WorkersBucket keeps one announcement per running worker, each with
	// its own TTL (workers.go).
	WorkersBucket        = "fm_workers"
	workersSubjectPrefix = "$KV." + WorkersBucket + "."

	// Core NATS subjects (no persistence).
	querySubjectPrefix = "fm.q."
	queryQueueGroup    = "workers"
	cancelSubject      = "fm.cancel"

	// duplicateWindow is how long a Nats-Msg-Id is remembered. What it
	// must cover: a publish retried after an unanswered attempt
	// (publishIdempotent, seconds), every engine firing the same due
	// timer, and above all a history batch derived again after the engine
	// that derived it died before acking it: redelivered once the engine
	// (or another) is back, it republishes the same activity tasks, and a
	// worker runs a first delivery without reading history, so a duplicate
	// outside the window runs an activity that already ran. Two minutes
	// (nats-server's default) covers a crashed engine restarted by a
	// supervisor; the cost is memory (~120 bytes of the server's heap per
	// id, 40 to 110 MB at 1,500 runs/s), which 30 s would cut by 4 at the
	// price of that guarantee.
	duplicateWindow = 2 * time.Minute

	// heartbeatMarkerTTL is how long a deleted heartbeat's marker stays
	// (watchers see the delete; then it is gone).
	heartbeatMarkerTTL = time.Minute

	maxQueueLen = engine.MaxTaskQueueBytes
	maxKeyLen   = 255
	maxRunIDLen = 128
)

// Headers stored beside each history batch (engine.BatchHeader).
const (
	hdrRun        = "Fm-Run"
	hdrWf         = "Fm-Wf"
	hdrWfB64      = "Fm-Wf-B64" // workflow ids unsafe in a header, base64url
	hdrQueue      = "Fm-Queue"
	hdrKind       = "Fm-Kind"
	hdrFirst      = "Fm-First"
	hdrLast       = "Fm-Last"
	hdrClosed     = "Fm-Closed"
	hdrWake       = "Fm-Wake"
	hdrDerive     = "Fm-Derive"
	hdrEager      = "Fm-Eager"
	hdrEagerStart = "Fm-Eager-Start"
	hdrLone       = "Fm-Lone"
	hdrSum        = "Fm-Sum"
	hdrSettle     = "Fm-Settles"
	hdrFireAt     = "Fm-Fire-At"
	// hdrTrace is W3C's own name, so NATS tooling that traces sees it.
	hdrTrace = "traceparent"

	hdrMsgID            = "Nats-Msg-Id"
	hdrExpectedSubjSeq  = "Nats-Expected-Last-Subject-Sequence"
	hdrStream           = "Nats-Stream"
	hdrSubject          = "Nats-Subject"
	hdrSequence         = "Nats-Sequence"
	hdrTimeStamp        = "Nats-Time-Stamp"
	hdrNumPending       = "Nats-Num-Pending"
	hdrLastSequence     = "Nats-Last-Sequence"
	hdrStreamSource     = "Nats-Stream-Source"
	hdrStatus           = "Status"
	hdrStatusDescriptor = "Description"
)

// streamConfigs is the wanted configuration of every stream of a store
// laid out as l: the history and task streams of every shard (shards.go),
// the sourced FM_HISTORY of a sharded store, and the timers. FM_HISTORY
// comes after the shards it sources: created first, the server found no
// source streams and retried sourcing them with a backoff, and every
// reader of all history lagged seconds behind. It records the layout, so
// a first start interrupted before it leaves empty shard streams and no
// record: the next start creates the layout it is given again (or one
// shard, whose streams do not overlap the shards' subjects).
func streamConfigs(o Options, l layout) []natsjs.StreamConfig {
	if !l.sharded() {
		return []natsjs.StreamConfig{historyConfig(o), tasksConfig(o), timersConfig(o)}
	}
	var out []natsjs.StreamConfig
	for i := range l.n {
		out = append(out, l.shardConfigs(o, i)...)
	}
	return append(out, l.aggregateConfig(o), timersConfig(o))
}

// streamConfig is what every stream of the store has in common: file
// storage, no limits (a limit with DiscardOld would silently evict pending
// tasks and timers), deduplication, the store's replicas.
func streamConfig(o Options, name, description, subjects string, retention natsjs.RetentionPolicy, discard natsjs.DiscardPolicy) natsjs.StreamConfig {
	return natsjs.StreamConfig{
		Name:        name,
		Description: description,
		Subjects:    []string{subjects},
		Storage:     natsjs.FileStorage,
		Retention:   retention,
		Discard:     discard,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxMsgSize:  -1,
		Duplicates:  duplicateWindow,
		Replicas:    o.Replicas,
	}
}

func historyConfig(o Options) natsjs.StreamConfig {
	c := streamConfig(o, HistoryStream, "Foreman run histories, one subject per run", historySubjects, natsjs.LimitsPolicy, natsjs.DiscardNew)
	c.AllowDirect = true
	return c
}

func tasksConfig(o Options) natsjs.StreamConfig {
	return streamConfig(o, TasksStream, "Foreman workflow and activity task queues", taskSubjects, natsjs.WorkQueuePolicy, natsjs.DiscardNew)
}

func timersConfig(o Options) natsjs.StreamConfig {
	c := streamConfig(o, TimersStream, "Foreman durable timers, one message per key", timerSubjects, natsjs.LimitsPolicy, natsjs.DiscardOld)
	c.MaxMsgsPerSubject = 1
	return c
}

// bucketConfigs is the wanted configuration of every KV bucket.
func bucketConfigs(o Options) []natsjs.KeyValueConfig {
	return []natsjs.KeyValueConfig{
		{Bucket: RunsBucket, Description: "Foreman workflow id -> current run", History: 1, Storage: natsjs.FileStorage, Replicas: o.Replicas},
		{
			Bucket: HeartbeatsBucket, Description: "Foreman activity heartbeats", History: 1, Storage: natsjs.FileStorage, Replicas: o.Replicas,
			// DeleteHeartbeat purges with a marker TTL so that one marker per
			// finished attempt does not pile up forever.
			LimitMarkerTTL: heartbeatMarkerTTL,
		},
		{
			Bucket: WorkersBucket, Description: "Foreman worker announcements", History: 1, Storage: natsjs.FileStorage, Replicas: o.Replicas,
			// Per-message TTLs (a killed worker's entry expires) need
			// markers, which also tell watchers that an entry expired.
			LimitMarkerTTL: heartbeatMarkerTTL,
		},
	}
}

func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// checkToken requires s to be 1..maxLen of [A-Za-z0-9_-].
func checkToken(what, s string, maxLen int) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidName, what)
	}
	if len(s) > maxLen {
		return fmt.Errorf("%w: %s %.40q… is %d bytes, at most %d allowed", ErrInvalidName, what, s, len(s), maxLen)
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return fmt.Errorf("%w: %s %q: only letters, digits, '_' and '-' are allowed (found %q)", ErrInvalidName, what, s, s[i])
		}
	}
	return nil
}

// checkDottedKey requires s to be tokens of [A-Za-z0-9_-] joined by single
// dots: a valid subject suffix and a valid KV key.
func checkDottedKey(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidName, what)
	}
	if len(s) > maxKeyLen {
		return fmt.Errorf("%w: %s %.40q… is %d bytes, at most %d allowed", ErrInvalidName, what, s, len(s), maxKeyLen)
	}
	prevDot := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if prevDot {
				return fmt.Errorf("%w: %s %q: empty segment between dots", ErrInvalidName, what, s)
			}
			prevDot = true
			continue
		}
		if !isTokenChar(c) {
			return fmt.Errorf("%w: %s %q: only letters, digits, '_', '-' and '.' are allowed (found %q)", ErrInvalidName, what, s, c)
		}
		prevDot = false
	}
	if prevDot {
		return fmt.Errorf("%w: %s %q: ends with a dot", ErrInvalidName, what, s)
	}
	return nil
}

// CheckQueueName reports whether name can be a task queue: 1 to 100 of
// [A-Za-z0-9_-].
func CheckQueueName(name string) error { return checkToken("task queue name", name, maxQueueLen) }

func checkTaskKind(kind engine.TaskKind) error {
	if kind != engine.WorkflowTaskKind && kind != engine.ActivityTaskKind {
		return fmt.Errorf("%w: task kind %q: must be %q or %q", ErrInvalidName, kind, engine.WorkflowTaskKind, engine.ActivityTaskKind)
	}
	return nil
}

// checkedTaskSubject is a task queue's subject on shard i, after checking
// the kind and the queue name.
func (l layout) checkedTaskSubject(i int, kind engine.TaskKind, queue string) (string, error) {
	if err := checkTaskKind(kind); err != nil {
		return "", err
	}
	if err := CheckQueueName(queue); err != nil {
		return "", err
	}
	return l.taskSubject(i, string(kind), queue), nil
}

// taskConsumerName is the durable consumer of one task queue.
func taskConsumerName(kind engine.TaskKind, queue string) string {
	return string(kind) + "_" + queue
}

func timerSubject(key string) (string, error) {
	if err := checkDottedKey("timer key", key); err != nil {
		return "", err
	}
	return timerSubjectPrefix + key, nil
}

func querySubject(queue string) (string, error) {
	if err := CheckQueueName(queue); err != nil {
		return "", err
	}
	return querySubjectPrefix + queue, nil
}

// runKey encodes a workflow id (any non-empty UTF-8 string) as a KV key.
func runKey(workflowID string) (string, error) {
	if workflowID == "" {
		return "", fmt.Errorf("%w: workflow id is empty", ErrInvalidName)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(workflowID)), nil
}

func workflowIDFromKey(key string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		return "", fmt.Errorf("decoding run key %q: %w", key, err)
	}
	return string(b), nil
}

// headerSafe reports whether s survives as a NATS header value unchanged:
// no control characters and no surrounding spaces (trimmed by parsers).
func headerSafe(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
