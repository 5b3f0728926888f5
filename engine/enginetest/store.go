package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/engine/internal/clock"
)

// trackedStore is the environment's store: the real one, on the test clock,
// counting the work in flight between the engine's parts so the
// environment knows when everything has settled and time may move on.
// Every count goes up before the call that starts the work returns and
// comes down only after the part that finishes it has taken it in: a batch
// appended until the dispatcher acknowledged it, a task published until a
// worker acknowledged it, a timer or heartbeat put until the timer service
// saw it (and armed the clock).
type trackedStore struct {
	engine.Store
	clock *clock.Manual

	mu        sync.Mutex
	appending int
	batches   map[string]int // run/seq appended, not yet dispatched
	seen      map[string]bool
	tasks     map[string]int // kind/queue: published, not yet acknowledged
	consumers map[string]int // kind/queue: ConsumeTasks calls under way
	timers    map[string][]byte
	beats     map[string]beat
	changed   chan struct{}
}

type beat struct {
	data    []byte
	deleted bool
}

func newTrackedStore(s engine.Store, clk *clock.Manual) *trackedStore {
	return &trackedStore{Store: s, clock: clk, batches: map[string]int{}, seen: map[string]bool{},
		tasks: map[string]int{}, consumers: map[string]int{},
		timers: map[string][]byte{}, beats: map[string]beat{}, changed: make(chan struct{})}
}

// EngineClock hands the engine the test clock (see engine/clock.go).
func (s *trackedStore) EngineClock() clock.Clock { return s.clock }

func (s *trackedStore) update(f func()) {
	s.mu.Lock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *trackedStore) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func batchKey(runID string, seq uint64) string { return fmt.Sprintf("%s/%d", runID, seq) }
func queueKey(kind engine.TaskKind, queue string) string {
	return string(kind) + "/" + queue
}

func (s *trackedStore) AppendHistory(ctx context.Context, h engine.BatchHeader, data []byte, expectedSeq uint64, msgID string) (uint64, error) {
	s.update(func() { s.appending++ })
	seq, err := s.Store.AppendHistory(ctx, h, data, expectedSeq, msgID)
	s.update(func() {
		s.appending--
		if err == nil {
			k := batchKey(h.RunID, seq)
			// the dispatcher may have taken the batch in already (-1)
			if s.batches[k]++; s.batches[k] == 0 {
				delete(s.batches, k)
			}
		}
	})
	return seq, err
}

func (s *trackedStore) ConsumeHistory(ctx context.Context, durable string, fn func([]engine.StoredBatch) error) error {
	return s.Store.ConsumeHistory(ctx, durable, func(batches []engine.StoredBatch) error {
		err := fn(batches)
		if err == nil {
			s.update(func() {
				for _, b := range batches {
					k := batchKey(b.Header.RunID, b.Seq)
					if s.batches[k]--; s.batches[k] == 0 {
						delete(s.batches, k)
					}
				}
			})
		}
		return err
	})
}

func (s *trackedStore) PublishTask(ctx context.Context, kind engine.TaskKind, queue string, data []byte, msgID string) error {
	k, counted := queueKey(kind, queue), false
	s.update(func() {
		// a message id published before is deduplicated by the store
		if msgID == "" || !s.seen[msgID] {
			s.seen[msgID], counted = true, true
			s.tasks[k]++
		}
	})
	err := s.Store.PublishTask(ctx, kind, queue, data, msgID)
	if err != nil && counted {
		s.update(func() { s.tasks[k]--; delete(s.seen, msgID) })
	}
	return err
}

func (s *trackedStore) ConsumeTasks(ctx context.Context, kind engine.TaskKind, queue string, maxInFlight int, fn func(engine.Delivery)) error {
	k := queueKey(kind, queue)
	s.update(func() { s.consumers[k]++ })
	defer s.update(func() { s.consumers[k]-- })
	return s.Store.ConsumeTasks(ctx, kind, queue, maxInFlight, func(d engine.Delivery) {
		fn(&trackedDelivery{Delivery: d, s: s, key: k})
	})
}

// trackedDelivery ends the task's count when it is acknowledged; a nakked
// task is still to do.
type trackedDelivery struct {
	engine.Delivery
	s    *trackedStore
	key  string
	once sync.Once
}

func (d *trackedDelivery) Ack(ctx context.Context) error {
	err := d.Delivery.Ack(ctx)
	d.once.Do(func() {
		d.s.update(func() {
			if d.s.tasks[d.key] > 0 {
				d.s.tasks[d.key]--
			}
		})
	})
	return err
}

func (s *trackedStore) PutTimer(ctx context.Context, t engine.StoredTimer) error {
	s.update(func() { s.timers[t.Key] = t.Data })
	err := s.Store.PutTimer(ctx, t)
	if err != nil {
		s.update(func() { delete(s.timers, t.Key) })
	}
	return err
}

func (s *trackedStore) WatchTimers(ctx context.Context, fn func(engine.StoredTimer)) error {
	return s.Store.WatchTimers(ctx, func(t engine.StoredTimer) {
		fn(t)
		s.update(func() {
			if d, ok := s.timers[t.Key]; ok && bytes.Equal(d, t.Data) {
				delete(s.timers, t.Key)
			}
		})
	})
}

func (s *trackedStore) PutHeartbeat(ctx context.Context, key string, data []byte) error {
	s.update(func() { s.beats[key] = beat{data: data} })
	err := s.Store.PutHeartbeat(ctx, key, data)
	if err != nil {
		s.update(func() { delete(s.beats, key) })
	}
	return err
}

func (s *trackedStore) DeleteHeartbeat(ctx context.Context, key string) error {
	s.update(func() { s.beats[key] = beat{deleted: true} })
	err := s.Store.DeleteHeartbeat(ctx, key)
	if err != nil {
		s.update(func() { delete(s.beats, key) })
	}
	return err
}

func (s *trackedStore) WatchHeartbeats(ctx context.Context, fn func(key string, data []byte)) error {
	return s.Store.WatchHeartbeats(ctx, func(key string, data []byte) {
		fn(key, data)
		s.update(func() {
			if b, ok := s.beats[key]; ok && b.deleted == (data == nil) && bytes.Equal(b.data, data) {
				delete(s.beats, key)
			}
		})
	})
}

// busy describes the work in flight, "" when everything has settled.
// Activity attempts parked in WaitForTimeout do not count: they wait for
// time to move.
func (s *trackedStore) busy() string {
	parked := s.clock.Parked()
	s.mu.Lock()
	var why []string
	if s.appending > 0 {
		why = append(why, fmt.Sprintf("%d history appends", s.appending))
	}
	if n := positive(s.batches); n > 0 {
		why = append(why, fmt.Sprintf("%d history batches not yet dispatched", n))
	}
	activities := 0
	for k, n := range s.tasks {
		if s.consumers[k] == 0 || n <= 0 { // nobody polls it: it waits for a worker, not for time
			continue
		}
		if strings.HasPrefix(k, string(engine.ActivityTaskKind)+"/") {
			activities += n
			continue
		}
		why = append(why, fmt.Sprintf("%d tasks on %s", n, k))
	}
	if activities > parked {
		why = append(why, fmt.Sprintf("%d activity tasks, %d of them waiting for time (an activity that hangs or takes time must call enginetest.WaitForTimeout or Sleep)", activities, parked))
	}
	if len(s.timers) > 0 {
		why = append(why, fmt.Sprintf("%d timers not yet armed", len(s.timers)))
	}
	if len(s.beats) > 0 {
		why = append(why, fmt.Sprintf("%d heartbeats not yet seen", len(s.beats)))
	}
	s.mu.Unlock()
	if n := s.clock.Holds(); n > 0 {
		why = append(why, fmt.Sprintf("%d timer firings under way", n))
	}
	sort.Strings(why)
	return strings.Join(why, ", ")
}

func positive(m map[string]int) int {
	n := 0
	for _, v := range m {
		if v > 0 {
			n++
		}
	}
	return n
}
