package engine

import (
	"context"
	"errors"
	"time"
)

// The engine persists everything through Store. The jetstream package
// implements it on NATS JetStream; the engine never imports NATS. The store
// moves bytes: the engine owns every encoding, the store owns durability,
// ordering and delivery.

// Sentinel errors every Store implementation returns (wrapped is fine; callers
// use errors.Is).
var (
	// ErrConflict: an optimistic-concurrency check failed (history appended
	// by someone else since expectedSeq, or a run record changed since the
	// revision read).
	ErrConflict = errors.New("concurrent modification")
	// ErrNotFound: no such run record, history, heartbeat or timer.
	ErrNotFound = errors.New("not found")
	// ErrExists: a create-only write found the key already present.
	ErrExists = errors.New("already exists")
	// ErrNoResponders: nobody serves the request (no worker polls that queue).
	ErrNoResponders = errors.New("no worker answered")
	// ErrTooLarge: a message exceeds the store's maximum payload.
	ErrTooLarge = errors.New("payload too large")
)

// BatchHeader is what the store keeps beside each history batch so readers
// (dispatcher, signal writers, followers) can decide without decoding bodies.
type BatchHeader struct {
	RunID        string
	WorkflowID   string
	TaskQueue    string // the workflow's task queue
	Kind         BatchKind
	FirstEventID int64
	LastEventID  int64
	Closed       bool // the batch holds the event that closes the run
	Wake         bool // the batch holds events a workflow task must see
	Derive       bool // the batch holds events that create tasks or timers
	// Eager names the activity attempts the workflow task's worker runs
	// itself, at once (engine-encoded: its instance token and their seqs);
	// the tasks derived for them only guard against that worker's loss.
	Eager string
	// EagerStart is set on a run's start batch when a worker in the
	// starting client's process takes the run's first workflow task at
	// once (local.go): the dispatcher holds the wake task back and
	// publishes it only if no later batch of the run comes in time.
	EagerStart bool `json:",omitempty"`
	// Lone is set on a closing batch by a closer that knows the run has no
	// parent and started no child (a worker closing the run from its whole
	// state): the dispatcher then skips the run's record and history, there
	// being no parent to tell and no child to apply a close policy to.
	// Unset means unknown, never "has family": a closer that does not know
	// leaves it unset and the dispatcher reads the run as before.
	Lone bool `json:",omitempty"`
	// Sum is the digest of the batch's data (BatchSum), set by a closer on
	// a closing batch: a waiter for the run's result that holds a copy of
	// the batch as it was published (not yet accepted by the store, maybe
	// refused) uses that copy instead of reading the batch only if the
	// copy's digest is the Sum the store holds. Unset: it reads the batch.
	Sum string `json:",omitempty"`
	// Settles lists the activities whose attempt the batch decides
	// (engine-encoded, comma-separated seqs: a result, a failed attempt,
	// a cancellation), so the dispatcher learns that an eager attempt's
	// outcome is saved without decoding the batch (dispatcher_hold.go).
	Settles string
	// Trace is the W3C traceparent of the span that wrote the batch (a
	// client's start, a workflow task), "" when tracing is off: the tasks
	// derived from the batch carry it on (tracing.go).
	Trace string
}

// BatchKind tells who wrote a history batch.
type BatchKind string

const (
	// BatchTask is written by a workflow task: inbound events, then the
	// commands the workflow code produced, then WorkflowTaskCompleted (or a
	// lone WorkflowTaskFailed). Replay runs the workflow code once per such
	// batch.
	BatchTask BatchKind = "task"
	// BatchExternal is written by anyone else: start, signal, cancel request,
	// approval decision, terminate. Replay applies its events without running
	// the workflow code.
	BatchExternal BatchKind = "external"
	// BatchImported is written by Client.Import: events copied from another
	// engine's export. Its header never wakes the run or derives work, and
	// a run whose history holds one refuses every write.
	BatchImported BatchKind = "imported"
)

// StoredBatch is one history message as read back: the stream sequence is
// the optimistic-concurrency token for the next append to the same run.
type StoredBatch struct {
	Seq    uint64
	Header BatchHeader
	Data   []byte
	Time   time.Time // when the store accepted it
}

// HistoryStore keeps each run's history as an append-only sequence of
// batches with a single total order.
type HistoryStore interface {
	// AppendHistory appends one batch to the run's history if the run's last
	// batch is still at expectedSeq (0: the history must be empty). It
	// returns the new batch's sequence, or ErrConflict. msgID, when set, makes
	// a retried append of the same batch harmless (deduplicated).
	AppendHistory(ctx context.Context, h BatchHeader, data []byte, expectedSeq uint64, msgID string) (uint64, error)
	// ReadHistory returns the run's batches with sequence > afterSeq, in order.
	ReadHistory(ctx context.Context, runID string, afterSeq uint64) ([]StoredBatch, error)
	// LastBatch returns the run's newest batch, or ErrNotFound.
	LastBatch(ctx context.Context, runID string) (StoredBatch, error)
	// FollowHistory calls fn for each batch of the run with sequence >
	// afterSeq, existing ones first, then new ones as they are appended, until
	// ctx ends or fn returns an error (which is returned; ctx end returns
	// ctx.Err()).
	FollowHistory(ctx context.Context, runID string, afterSeq uint64, fn func(StoredBatch) error) error
	// ConsumeHistory delivers every batch of every run, at least once and in
	// the run's append order, to a durable consumer named durable; a batch
	// is acknowledged when fn returns nil and redelivered otherwise. It
	// blocks until ctx ends. A store that spreads runs over several streams
	// (the jetstream store's shards) may call fn concurrently, once per
	// stream, each call with one stream's batches.
	ConsumeHistory(ctx context.Context, durable string, fn func([]StoredBatch) error) error
}

// RunRecord maps a workflow id to its current run. Creating it is the commit
// point of a start; Start is replayed into history by whoever finds the run's
// history empty (the starter, or the engine's sweeper after a crash).
type RunRecord struct {
	RunID     string    `json:"run_id"`
	CreatedAt time.Time `json:"created_at"`
	// Start holds the encoded first history batch of the run, so that the
	// start can be completed by anyone after a crash between the two writes.
	Start []byte `json:"start,omitempty"`
	// StartHeader is the header to append Start with.
	StartHeader BatchHeader `json:"start_header"`
	// Children is set once the run started a child workflow: when it
	// closes, the engine reads its history for the children to apply their
	// parent close policy to (other runs' closes skip that read).
	Children bool `json:"children,omitempty"`
}

// RunRegistry keeps workflow id -> current run, with compare-and-swap.
type RunRegistry interface {
	// CreateRun stores rec under workflowID only if absent; ErrExists otherwise.
	CreateRun(ctx context.Context, workflowID string, rec RunRecord) (rev uint64, err error)
	// GetRun returns the record and its revision, or ErrNotFound.
	GetRun(ctx context.Context, workflowID string) (RunRecord, uint64, error)
	// ReplaceRun overwrites the record if its revision is still rev; ErrConflict otherwise.
	ReplaceRun(ctx context.Context, workflowID string, rec RunRecord, rev uint64) (uint64, error)
	// ListRuns calls fn for every record (used by the engine's start sweeper).
	ListRuns(ctx context.Context, fn func(workflowID string, rec RunRecord) error) error
}

// TaskKind separates workflow tasks from activity tasks; each has its own
// durable queue per task queue name.
type TaskKind string

const (
	WorkflowTaskKind TaskKind = "wf"
	ActivityTaskKind TaskKind = "act"
)

// Delivery is one task handed to a worker. Exactly one of Ack or Nak ends it.
type Delivery interface {
	Data() []byte
	// NumDelivered counts deliveries of this task, durably (1 the first time).
	NumDelivered() uint64
	Ack(ctx context.Context) error
	// Nak hands the task back, to be redelivered after delay.
	Nak(delay time.Duration) error
	// InProgress tells the store the task is still being worked on (resets
	// its redelivery deadline).
	InProgress() error
	// AckWait is the redelivery deadline InProgress resets.
	AckWait() time.Duration
}

// TaskQueues are durable work queues, one per (kind, queue name).
type TaskQueues interface {
	// PublishTask stores a task durably; msgID makes republishing harmless.
	PublishTask(ctx context.Context, kind TaskKind, queue string, data []byte, msgID string) error
	// ConsumeTasks delivers tasks of (kind, queue) to fn, one call at a time
	// from one goroutine, as soon as each is available, with at most
	// maxInFlight delivered and not yet acked or nakked. It blocks until ctx
	// ends; deliveries not ended by then are redelivered later.
	ConsumeTasks(ctx context.Context, kind TaskKind, queue string, maxInFlight int, fn func(Delivery)) error
}

// StoredTimer is a durable timer. The store keeps one timer per Key (a later
// put replaces it).
type StoredTimer struct {
	Key    string // [A-Za-z0-9_-] and '.', unique per timer
	FireAt time.Time
	Data   []byte
	Seq    uint64 // set by the store when read back
}

// TimerStore keeps timers until the engine fires and deletes them.
type TimerStore interface {
	PutTimer(ctx context.Context, t StoredTimer) error
	// WatchTimers calls fn for every stored timer, then for each new one put,
	// until ctx ends.
	WatchTimers(ctx context.Context, fn func(StoredTimer)) error
	// DeleteTimer removes the timer stored at seq (a no-op if already gone).
	DeleteTimer(ctx context.Context, seq uint64) error
}

// HeartbeatStore keeps the newest heartbeat of each running activity
// attempt; watchers see every update.
type HeartbeatStore interface {
	PutHeartbeat(ctx context.Context, key string, data []byte) error
	GetHeartbeat(ctx context.Context, key string) ([]byte, error)
	DeleteHeartbeat(ctx context.Context, key string) error
	// WatchHeartbeats calls fn with every current value, then each update
	// (data nil for a delete), until ctx ends.
	WatchHeartbeats(ctx context.Context, fn func(key string, data []byte)) error
}

// Bus carries requests that need no durability: queries to the workers of a
// task queue, and activity-cancellation notices.
type Bus interface {
	// ServeQueries answers requests for queue with handler (one worker of
	// the queue gets each request), concurrently: a slow query must not
	// hold up the others. stop ends serving.
	ServeQueries(queue string, handler func(req []byte) []byte) (stop func(), err error)
	// Query sends req to one worker of queue; ErrNoResponders if none.
	Query(ctx context.Context, queue string, req []byte) ([]byte, error)
	// PublishCancel broadcasts that an activity attempt must stop.
	PublishCancel(ctx context.Context, data []byte) error
	// SubscribeCancels calls fn for every cancel notice; stop ends it.
	SubscribeCancels(fn func(data []byte)) (stop func(), err error)
}

// QueryServer is an optional addition to Bus: query handlers get a context
// that ends when the requester stops waiting, so a query that replays a
// long history gives up with its caller. Workers use it when their store
// has it (the jetstream store does), and ServeQueries otherwise.
type QueryServer interface {
	ServeQueriesContext(queue string, handler func(ctx context.Context, req []byte) []byte) (stop func(), err error)
}

// serveQueries serves queue's queries through b, with a context per
// request when b is a QueryServer.
func serveQueries(b Bus, queue string, handler func(ctx context.Context, req []byte) []byte) (stop func(), err error) {
	if qs, ok := b.(QueryServer); ok {
		return qs.ServeQueriesContext(queue, handler)
	}
	return b.ServeQueries(queue, func(req []byte) []byte { return handler(context.Background(), req) })
}

// HistoryHolder is an optional addition to HistoryStore (the jetstream
// store has it): a durable history consumer whose handler may keep some
// batches unacknowledged after it returned, and end each later. The
// dispatcher holds a batch claiming eager attempts until their outcome is
// seen, instead of storing a guard task for each (dispatcher_hold.go).
type HistoryHolder interface {
	// ConsumeHistoryHolding is ConsumeHistory whose fn may call hold(i)
	// (from any goroutine, before fn returns) to take over the
	// acknowledgement of batches[i]. hold refuses (false) when the store
	// holds too many batches already; the batch is then acknowledged with
	// the others. If fn fails, the holds it took are void (their handles
	// do nothing) and the batches come again. A held batch is kept from
	// redelivery while its handle lives, and redelivered if the consumer
	// stops (or the process dies) before the handle ends it.
	ConsumeHistoryHolding(ctx context.Context, durable string, fn func(batches []StoredBatch, hold func(i int) (HeldBatch, bool)) error) error
}

// HeldBatch is a history batch whose acknowledgement its handler took
// over. The first of Ack and Nak counts; calls before the handler
// returned take effect once it has (Ack only if it succeeded).
type HeldBatch interface {
	// Ack acknowledges the batch: it is never delivered again.
	Ack()
	// Nak hands it back, to be delivered again at once.
	Nak()
}

// Store is everything the engine needs from persistence.
type Store interface {
	HistoryStore
	RunRegistry
	TaskQueues
	TimerStore
	HeartbeatStore
	Bus
}
