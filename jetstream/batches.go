package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
)

// The batch journal lets an operator's batch action (approve every match of
// a query, …) be interrupted and resumed without acting twice on one run:
// before acting on a run the batch claims it (create-only write), after
// acting it records the outcome (compare-and-swap on the claim). A resumed
// batch skips runs already done and decides what to do about runs claimed
// but never finished (the process died mid-action) from their history.

const (
	// BatchesBucket keeps batch journals: "<batch id>.meta" holds the
	// Batch, "<batch id>.i.<run id>" one BatchItem per run acted on
	// ("<batch id>.i.<run id>.a<hash>" per approval when Approval is set).
	BatchesBucket = "fm_batches"
	// BatchJournalTTL is how long a journal entry is kept: a batch can be
	// resumed within this time of its last write.
	BatchJournalTTL = 30 * 24 * time.Hour

	maxBatchIDLen = 64
)

// ErrBatchMismatch: a batch id was reused for a different action, query or
// identity.
var ErrBatchMismatch = errors.New("batch id belongs to another batch")

// The journal's records are declared by the operator layer, which runs
// the batches (operator.Journal); Batches implements it.
type (
	// Batch describes a batch action: what was asked, over which query, by whom.
	Batch = operator.BatchRecord
	// BatchItemState is where a batch stands with one run.
	BatchItemState = operator.ItemState
	// BatchItem is the journal record of one run.
	BatchItem = operator.ItemRecord
)

// Where a batch stands with one run (see operator.ItemState).
const (
	ItemStarted = operator.ItemStarted
	ItemOK      = operator.ItemOK
	ItemSkipped = operator.ItemSkipped
	ItemError   = operator.ItemError
)

var _ operator.Journal = (*Batches)(nil)

// ErrBatchRunning: another live process is running the batch.
var ErrBatchRunning = errors.New("batch is running in another process")

// Batches is the batch journal. It is safe for concurrent use.
type Batches struct {
	nc *nats.Conn
	kv natsjs.KeyValue
}

// OpenBatches opens the journal bucket on nc, creating it when absent
// (replicas 0 means 1).
func OpenBatches(ctx context.Context, nc *nats.Conn, replicas int) (*Batches, error) {
	kv, err := openBucket(ctx, nc, natsjs.KeyValueConfig{
		Bucket:      BatchesBucket,
		Description: "Foreman batch action journals (resumable batches)",
		History:     1,
		TTL:         BatchJournalTTL,
		Storage:     natsjs.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	return &Batches{nc: nc, kv: kv}, nil
}

// CheckBatchID reports whether id can name a batch: 1 to 64 of
// [A-Za-z0-9_-].
func CheckBatchID(id string) error { return checkToken("batch id", id, maxBatchIDLen) }

func batchMetaKey(id string) string { return id + ".meta" }

func batchItemKey(id string, it BatchItem) (string, error) {
	if err := checkToken("run id", it.RunID, maxRunIDLen); err != nil {
		return "", err
	}
	key := id + ".i." + it.RunID
	if it.Approval != "" {
		// approval names are free text; a hash keeps the key a token
		h := fnv.New64a()
		h.Write([]byte(it.Approval))
		key += fmt.Sprintf(".a%016x", h.Sum64())
	}
	return key, nil
}

// Begin records b under b.ID, or returns the batch already recorded there
// (resumed true). A recorded batch with another action, query, identity or
// arguments is refused with ErrBatchMismatch.
func (j *Batches) Begin(ctx context.Context, b Batch) (Batch, bool, error) {
	if err := CheckBatchID(b.ID); err != nil {
		return b, false, err
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if b.CreatedAt.IsZero() {
		b.CreatedAt = time.Now().UTC()
	}
	val, err := json.Marshal(b)
	if err != nil {
		return b, false, fmt.Errorf("encoding batch %s: %w", b.ID, err)
	}
	_, err = j.kv.Create(ctx, batchMetaKey(b.ID), val)
	if err == nil {
		return b, false, nil
	}
	if !errors.Is(err, natsjs.ErrKeyExists) {
		return b, false, fmt.Errorf("recording batch %s: %w", b.ID, err)
	}
	prev, err := j.Get(ctx, b.ID)
	if err != nil {
		return b, false, err
	}
	switch {
	case prev.Action != b.Action:
		return prev, true, fmt.Errorf("%w: %s was a %s batch, not %s", ErrBatchMismatch, b.ID, prev.Action, b.Action)
	case prev.Query != b.Query:
		return prev, true, fmt.Errorf("%w: %s ran over query %q, not %q", ErrBatchMismatch, b.ID, prev.Query, b.Query)
	case prev.Identity != b.Identity:
		return prev, true, fmt.Errorf("%w: %s was started by %s, not %s", ErrBatchMismatch, b.ID, prev.Identity, b.Identity)
	case !jsonEqual(prev.Args, b.Args):
		return prev, true, fmt.Errorf("%w: %s ran with arguments %s, not %s", ErrBatchMismatch, b.ID, prev.Args, b.Args)
	}
	return prev, true, nil
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// Get returns the batch recorded under id, or engine.ErrNotFound.
func (j *Batches) Get(ctx context.Context, id string) (Batch, error) {
	var b Batch
	if err := CheckBatchID(id); err != nil {
		return b, err
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	e, err := j.kv.Get(ctx, batchMetaKey(id))
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return b, fmt.Errorf("batch %s: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("reading batch %s: %w", id, err)
	}
	if err := json.Unmarshal(e.Value(), &b); err != nil {
		return b, fmt.Errorf("decoding batch %s: %w", id, err)
	}
	return b, nil
}

// Claim records that batch id is about to act on it.RunID. When the run has
// no record yet, it is recorded as started and returned with acquired true.
// Otherwise the earlier record is returned with acquired false: the caller
// decides from its state whether to act again, through Retake.
func (j *Batches) Claim(ctx context.Context, id string, it BatchItem) (BatchItem, bool, error) {
	key, err := batchItemKey(id, it)
	if err != nil {
		return it, false, err
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	it.State, it.Reason, it.Attempts = ItemStarted, "", 1
	it.StartedAt, it.FinishedAt = time.Now().UTC(), time.Time{}
	val, err := json.Marshal(it)
	if err != nil {
		return it, false, err
	}
	rev, err := j.kv.Create(ctx, key, val)
	if err == nil {
		it.Revision = rev
		return it, true, nil
	}
	if !errors.Is(err, natsjs.ErrKeyExists) {
		return it, false, fmt.Errorf("claiming run %s in batch %s: %w", it.RunID, id, err)
	}
	e, err := j.kv.Get(ctx, key)
	if err != nil {
		return it, false, fmt.Errorf("reading claim of run %s in batch %s: %w", it.RunID, id, err)
	}
	var prev BatchItem
	if err := json.Unmarshal(e.Value(), &prev); err != nil {
		return it, false, fmt.Errorf("decoding claim of run %s in batch %s: %w", it.RunID, id, err)
	}
	prev.Revision = e.Revision()
	return prev, false, nil
}

// Retake claims again a run whose earlier record is prev (it failed, or
// was interrupted without taking effect). It returns acquired false when
// someone else changed the record since prev was read.
func (j *Batches) Retake(ctx context.Context, id string, prev BatchItem) (BatchItem, bool, error) {
	it := prev
	it.State, it.Reason, it.Attempts = ItemStarted, "", prev.Attempts+1
	it.StartedAt, it.FinishedAt = time.Now().UTC(), time.Time{}
	rev, err := j.update(ctx, id, it, prev.Revision)
	if errors.Is(err, engine.ErrConflict) {
		return prev, false, nil
	}
	if err != nil {
		return prev, false, err
	}
	it.Revision = rev
	return it, true, nil
}

// Finish records the outcome of a claimed run; it (as returned by Claim or
// Retake, with State and Reason set) must still be the newest record.
func (j *Batches) Finish(ctx context.Context, id string, it BatchItem) (BatchItem, error) {
	if it.State == ItemStarted {
		return it, fmt.Errorf("finishing run %s in batch %s: state %q is not an outcome", it.RunID, id, it.State)
	}
	if it.FinishedAt.IsZero() {
		it.FinishedAt = time.Now().UTC()
	}
	rev, err := j.update(ctx, id, it, it.Revision)
	if err != nil {
		return it, err
	}
	it.Revision = rev
	return it, nil
}

func (j *Batches) update(ctx context.Context, id string, it BatchItem, rev uint64) (uint64, error) {
	key, err := batchItemKey(id, it)
	if err != nil {
		return 0, err
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	val, err := json.Marshal(it)
	if err != nil {
		return 0, err
	}
	nrev, err := j.kv.Update(ctx, key, val, rev)
	if isWrongLastSequence(err) || errors.Is(err, natsjs.ErrKeyExists) {
		return 0, fmt.Errorf("recording run %s in batch %s: %w", it.RunID, id, engine.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("recording run %s in batch %s: %w", it.RunID, id, err)
	}
	return nrev, nil
}

// Items returns every run record of batch id, in journal order.
func (j *Batches) Items(ctx context.Context, id string) ([]BatchItem, error) {
	if err := CheckBatchID(id); err != nil {
		return nil, err
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	w, err := j.kv.Watch(ctx, id+".i.>", natsjs.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("listing batch %s: %w", id, err)
	}
	defer func() { _ = w.Stop() }()
	var out []BatchItem
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("listing batch %s: %w", id, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return out, nil
			}
			if e == nil { // the initial values are all delivered
				return out, nil
			}
			var it BatchItem
			if err := json.Unmarshal(e.Value(), &it); err != nil {
				return nil, fmt.Errorf("decoding %s in batch %s: %w", e.Key(), id, err)
			}
			it.Revision = e.Revision()
			out = append(out, it)
		}
	}
}

// holdSubjectPrefix + batch id is answered by the process running the batch.
const holdSubjectPrefix = "fm.batch.hold."

// Hold marks batch id as running in this process until release is called.
// The hold is a NATS subscription, so it ends with the process however the
// process ends: a batch killed midway can be resumed at once, while a batch
// still running elsewhere is refused with ErrBatchRunning (naming who). Two
// resumes racing past the check are still safe: Claim and Retake let one
// of them act on each run.
func (j *Batches) Hold(ctx context.Context, id, holder string) (release func(), err error) {
	if err := CheckBatchID(id); err != nil {
		return nil, err
	}
	subj := holdSubjectPrefix + id
	// A live holder answers at once. A request can still reach a holder
	// that just died if the server has not noticed yet: it times out, and
	// the next attempt finds no responders.
	free := false
	for attempt := 0; attempt < 3 && !free; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		m, err := j.nc.RequestWithContext(actx, subj, nil)
		cancel()
		switch {
		case err == nil:
			return nil, fmt.Errorf("%w: %s is held by %s", ErrBatchRunning, id, m.Data)
		case errors.Is(err, nats.ErrNoResponders):
			free = true
		case ctx.Err() != nil:
			return nil, fmt.Errorf("checking whether batch %s is running: %w", id, ctx.Err())
		case !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout):
			return nil, fmt.Errorf("checking whether batch %s is running: %w", id, err)
		}
	}
	if !free {
		return nil, fmt.Errorf("%w: %s has a holder that does not answer", ErrBatchRunning, id)
	}
	since := time.Now().UTC().Format(time.RFC3339)
	sub, err := j.nc.Subscribe(subj, func(m *nats.Msg) { _ = m.Respond([]byte(holder + " since " + since)) })
	if err != nil {
		return nil, fmt.Errorf("holding batch %s: %w", id, err)
	}
	fctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if err := j.nc.FlushWithContext(fctx); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("holding batch %s: %w", id, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
